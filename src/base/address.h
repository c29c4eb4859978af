#ifndef NUDGED_ADDRESS_H
#define NUDGED_ADDRESS_H

/* 1 when addr is a plain, safe "local@domain" (no name, no <>, no CR/LF, no spaces). */
int	 address_valid(const char *addr);
/* 1 for an RFC 5322 atext character (letters, digits, !#$%&'*+-/=?^_`{|}~). */
int	 address_atext(int c);

#endif
