/*
 * address: is an email address plain and safe to put in a header?  Used
 * by the planner (a client's address), the mail transport and nudgectl;
 * no I/O, no state.
 */
#include <string.h>

#include "base/address.h"

int
address_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

int
address_valid(const char *addr)
{
	const char *at, *p, *label;

	if (addr == NULL || strlen(addr) > 254 ||
	    (at = strchr(addr, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	if (at == addr || at - addr > 64 || addr[0] == '.' || at[-1] == '.')
		return 0;
	for (p = addr; p < at; p++)
		if (!address_atext((unsigned char)*p) && !(*p == '.' && p[1] != '.'))
			return 0;
	for (label = p = at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = p + 1;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	}
}

