/*
 * cal_link: video meeting links in calendar text (issue 10).  Pure.  A
 * link counts only on https, on a known meeting host or its subdomains
 * (the list below), or on the host of practice.video_url: a booking page
 * (cal.com/booking/..., a Calendly invitee page) in an event's URL is not
 * where the session happens.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cal_link.h"
#include "base/util.h"

/* Hosts of video meeting services; a subdomain matches too. */
static const char *const cal_link_hosts[] = {
	"meet.google.com", "zoom.us", "zoom.com", "teams.microsoft.com",
	"teams.live.com", "whereby.com", "meet.jit.si", "doxy.me",
	"webex.com", "gotomeet.me", "app.cal.com", "vsee.me", NULL
};

static int
cal_link_host_is(const char *host, size_t hlen, const char *want)
{
	size_t wlen = strlen(want);

	if (hlen == wlen)
		return strncasecmp(host, want, wlen) == 0;
	return hlen > wlen && host[hlen - wlen - 1] == '.' &&
	    strncasecmp(host + hlen - wlen, want, wlen) == 0;
}

/* The host part of an https:// URL; 0 when it is not one. */
static size_t
cal_link_https_host(const char *url, const char **host)
{
	if (url == NULL || strncasecmp(url, "https://", 8) != 0)
		return 0;
	*host = url + 8;
	return strcspn(*host, "/:?#@ \t");
}

int
cal_link_is_meeting(const char *url, const char *extra)
{
	const char *host, *xhost;
	size_t hlen, xlen;

	if ((hlen = cal_link_https_host(url, &host)) == 0)
		return 0;
	for (size_t i = 0; cal_link_hosts[i] != NULL; i++)
		if (cal_link_host_is(host, hlen, cal_link_hosts[i]))
			return 1;
	if ((xlen = cal_link_https_host(extra, &xhost)) != 0 && xlen == hlen &&
	    strncasecmp(host, xhost, hlen) == 0)
		return 1;
	return 0;
}

/* The first meeting link in free text (LOCATION, DESCRIPTION, URL). */
char *
cal_link_in_text(const char *text, const char *extra)
{
	const char *p = text;

	while (p != NULL && (p = strcasestr(p, "https://")) != NULL) {
		size_t n = strcspn(p, " \t\r\n<>\"'()[]{},;");
		char *u = xstrndup(p, n);

		if (cal_link_is_meeting(u, extra))
			return u;
		free(u);
		p += n;
	}
	return NULL;
}
