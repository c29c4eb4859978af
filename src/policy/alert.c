/*
 * alert: the failure digest.  See alert.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/alert.h"
#include "base/log.h"
#include "base/tz.h"
#include "base/util.h"

int
alert_due(const struct conf *c, const struct alert_in *in, time_t last,
    time_t now)
{
	int news = in->nfailed > 0 || in->nbad > 0, paused = 0;

	for (int ch = 0; ch < CHAN_N; ch++)
		paused |= in->paused[ch] != NULL;
	if (!news && !paused)
		return 0;
	return last == 0 || now - last >= c->alerts_every;
}

static const char *
alert_table(const char *t)
{
	if (strcmp(t, "appointments") == 0)
		return "Appointment";
	if (strcmp(t, "homework") == 0)
		return "Homework";
	if (strcmp(t, "clients") == 0)
		return "Client";
	return t;
}

char *
alert_summary(const struct alert_in *in)
{
	struct sbuf b = { 0 };
	char when[64], hm[16], why[512];

	for (int ch = 0; ch < CHAN_N; ch++)
		if (in->paused[ch] != NULL)
			sbuf_printf(&b, "- The %s channel is paused: %s. Its "
			    "messages wait and go once it works again.\n",
			    chan_name((enum chan)ch),
			    log_scrub(in->paused[ch], why, sizeof(why)));
	for (size_t i = 0; i < in->nfailed; i++) {
		const struct msg *m = &in->failed[i];

		sbuf_printf(&b, "- Message %lld (%s by %s", m->id,
		    msg_purpose_name(m->purpose),
		    chan_name(m->channel));
		if (m->client_id != 0)
			sbuf_printf(&b, " to client %lld", m->client_id);
		if (m->appointment_id != 0 && m->appt_start != 0) {
			tz_format_date(m->appt_start, when, sizeof(when));
			tz_format_time(m->appt_start, hm, sizeof(hm));
			sbuf_printf(&b, ", appointment %lld on %s at %s",
			    m->appointment_id, when, hm);
		}
		if (m->homework_id != 0)
			sbuf_printf(&b, ", homework %lld%s%s", m->homework_id,
			    m->occurrence ? " on " : "",
			    m->occurrence ? m->occurrence : "");
		sbuf_printf(&b, ") could not be delivered: %s\n",
		    log_scrub(m->last_error ? m->last_error : "no reason recorded",
		    why, sizeof(why)));
	}
	for (size_t i = 0; i < in->nbad; i++) {
		/* a calendar feed's problem (issue 10): "feed NAME: ..." */
		if (strcmp(in->bad[i].table, "calendar") == 0) {
			sbuf_printf(&b, "- Calendar %s\n", log_scrub(in->bad[i].what,
			    why, sizeof(why)));
			continue;
		}
		sbuf_printf(&b, "- %s row %lld could not be read and was "
		    "skipped: %s\n", alert_table(in->bad[i].table), in->bad[i].id,
		    log_scrub(in->bad[i].what, why, sizeof(why)));
	}
	if (in->nbad > 0)
		sbuf_printf(&b, "- To list every unreadable row: nudgectl "
		    "problems\n");
	if (in->nfailed > 0)
		sbuf_printf(&b, "- To see why messages failed: nudgectl outbox "
		    "--status failed\n");
	/* the template puts the blank line after {{summary}}, not the list */
	if (b.len > 0 && b.s[b.len - 1] == '\n')
		b.s[--b.len] = '\0';
	return sbuf_steal(&b);
}
