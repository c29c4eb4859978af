/*
 * check: render every template with sample data.  See check.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/check.h"
#include "policy/compose.h"
#include "base/phone.h"
#include "store/store.h"
#include "base/tmpl.h"
#include "base/util.h"

static void
check_one(const struct conf *c, enum msg_purpose purpose, enum appt_kind kind,
    const char *template, int discreet, FILE *out, int *warned)
{
	struct client cl = {
		.id = 1, .name = "Alexandra Montgomery-Smith",
		.first_name = "Alexandra", .email = "alexandra@example.org",
		.phone = "07700 900123", .email_consent = 1, .sms_consent = 1,
		.discreet = discreet,
	};
	struct client partner = {
		.id = 2, .name = "Christopher Fitzgerald", .first_name = "Christopher",
	};
	struct appt a = {
		.id = 1, .case_id = 1, .starts_at = 1790780400, /* Wed 30 Sep 2026 */
		.duration_min = 90, .kind = kind, .mode = MODE_ONLINE,
		.video_url = "https://meet.example.org/room-4821/abcdefghij",
	};
	struct homework hw = {
		.id = 1, .case_id = 1, .title = "Pause before replying",
		.prompt = "Today, when you notice the pull to reply at once, pause "
		    "for three breaths and say what you heard first.",
		.every_days = 2, .at = -1, .active = 1,
	};
	struct compose_in in = {
		.purpose = purpose, .template = template, .appt = &a, .client = &cl,
		.partner = &partner, .hw = &hw, .next_session = 1791385200,
		.day_number = 3, .summary = "msg=12 failed: 550 mailbox unavailable",
		/* the longest forms: "on <date>", and a moved notice's old time */
		.now = 1790780400 - 2 * 86400, .old_start = 1790780400 - 86400,
	};
	struct composed w;
	struct sms_count n;

	compose_msg(c, &in, &w);
	if (c->sms.enabled && purpose != PURPOSE_ALERT) {
		sms_count(w.sms, &n);
		if (n.segments > c->sms.max_segments) {
			fprintf(out, "%s: warning: template %s.sms rendered with long "
			    "sample names is %d segments (max_segments = %ld)\n",
			    c->path, w.group, n.segments, c->sms.max_segments);
			*warned = 1;
		}
	}
	composed_free(&w);
}

int
check_templates(const struct conf *c, FILE *out)
{
	int warned = 0;

	for (int d = 0; d <= 1; d++) {
		for (int k = 0; k < KIND_N; k++)
			for (int p = 0; p < PURPOSE_CLIENT_N; p++)
				check_one(c, (enum msg_purpose)p,
				    (enum appt_kind)k, NULL, d, out, &warned);
		for (size_t r = 0; r < c->nrules; r++)
			if (c->rules[r].template != NULL)
				check_one(c, c->rules[r].before ?
				    PURPOSE_REMINDER : PURPOSE_FOLLOW_UP,
				    KIND_SESSION, c->rules[r].template, d, out,
				    &warned);
	}
	check_one(c, PURPOSE_ALERT, KIND_SESSION, NULL, 0, out, &warned);
	/* Rendering cannot fail once conf_load has checked every template. */
	return 0;
}
