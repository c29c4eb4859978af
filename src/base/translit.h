/*
 * translit: a name's letters outside GSM-7 simplified (ë -> e), for SMS.
 */
#ifndef NUDGED_TRANSLIT_H
#define NUDGED_TRANSLIT_H

/* A copy of the UTF-8 text s with Latin letters GSM-7 lacks simplified; caller frees. */
char	*translit_gsm(const char *s);

#endif
