/*
 * utf8: display width of UTF-8 text (terminal columns), for tables.
 */
#ifndef NUDGED_UTF8_H
#define NUDGED_UTF8_H

#include <stddef.h>

size_t	 utf8_width(const char *);

#endif
