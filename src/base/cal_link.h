/*
 * cal_link: video meeting links in calendar text (see cal_link.c).
 */
#ifndef NUDGED_CAL_LINK_H
#define NUDGED_CAL_LINK_H

/*
 * 1 when url is a video meeting link: https on a known meeting host
 * (meet.google.com, zoom.us, teams.microsoft.com, ...) or on the host of
 * extra (practice.video_url; may be NULL).
 */
int	 cal_link_is_meeting(const char *url, const char *extra);
/* The first meeting link in free text, or NULL; caller frees. */
char	*cal_link_in_text(const char *text, const char *extra);

#endif
