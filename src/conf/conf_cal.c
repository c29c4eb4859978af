/*
 * conf_cal: the calendar group (issue 10):
 *
 *   calendar = { window = "60d";
 *     feeds = ( { name = "diary"; url = "https://..."; every = "10m";
 *                 match = ["attendee", "label"]; } ); };
 *
 * A feed's url is a secret (Google's "secret address" lets anyone read
 * the diary): inline, url_file, or the systemd credential
 * "calendar-<name>", as for email.password (conf_load_secret).  A file
 * path (or file://) is not a secret and is taken as it is.  Beyond the
 * contract's keys: ca_file and timeout, as for the other transports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_int.h"
#include "base/util.h"

#define CONF_CAL_WINDOW	(60L * 86400)
#define CONF_CAL_EVERY	600L
#define CONF_CAL_MIN_EVERY	5L

static const char *const calendar_keys[] = { "window", "feeds", NULL };
static const char *const feed_keys[] = { "name", "url", "url_file", "every",
	"match", "ca_file", "timeout", NULL };
static const char *const match_names[] = { "attendee", "label", NULL };

static int
conf_cal_is_path(const char *v)
{
	return v[0] == '/' || strncasecmp(v, "file://", 7) == 0;
}

static void
conf_cal_match(void *arg, const char *v)
{
	struct conf_feed *f = arg;

	if (strcmp(v, "attendee") == 0)
		f->by_attendee = 1;
	else
		f->by_label = 1;
}

static int
conf_cal_name_ok(const char *n)
{
	if (*n == '\0' || strlen(n) > 40)
		return 0;
	for (; *n != '\0'; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
		    *n == '-' || *n == '_'))
			return 0;
	return 1;
}

static void
conf_cal_url(struct conf_ld *ld, const config_setting_t *g, struct conf_feed *f)
{
	config_setting_t *u = conf_member(g, "url");
	char cred[64], what[64];

	if (u != NULL && config_setting_type(u) == CONFIG_TYPE_STRING &&
	    conf_cal_is_path(config_setting_get_string(u))) {
		if (conf_member(g, "url_file") != NULL)
			conf_err(ld, conf_member(g, "url_file"), "url and "
			    "url_file are both given: keep one");
		conf_get_str(ld, g, "url", &f->url);
		return;
	}
	snprintf(cred, sizeof(cred), "calendar-%s", f->name);
	snprintf(what, sizeof(what), "calendar feed %s", f->name);
	conf_load_secret(ld, g, what, "url", cred, 1, &f->url);
	if (f->url == NULL) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		/*
		 * Outside systemd (a --check-config by hand) the credential
		 * cannot be seen: only a warning then, as for email.password;
		 * the feed is skipped (and reported) until it has a url.
		 */
		if (conf_member(g, "url") != NULL || conf_member(g, "url_file") != NULL)
			return;
		if (dir != NULL && *dir != '\0')
			conf_err(ld, g, "calendar feed '%s' has no url (give url, "
			    "url_file, or the credential %s)", f->name, cred);
		else
			conf_warn(ld, g, "calendar feed '%s' has no url here (give "
			    "url, url_file, or the credential %s)", f->name, cred);
		return;
	}
	if (strncasecmp(f->url, "webcal://", 9) == 0) {
		char *h = xasprintf("https://%s", f->url + 9);

		xfree_secret(f->url);
		f->url = h;
	}
	/* a url_file or credential may hold a path too; else https only */
	if (!conf_cal_is_path(f->url) && !conf_has_scheme(f->url, "https://"))
		conf_err(ld, conf_member(g, "url") ? conf_member(g, "url") :
		    conf_member(g, "url_file") ? conf_member(g, "url_file") : g,
		    "calendar feed '%s': the url must be https:// (or a file "
		    "path); a webcal:// address works as https://", f->name);
}

static void
conf_cal_feed(struct conf_ld *ld, const config_setting_t *g)
{
	struct conf *c = ld->c;
	struct conf_feed f = { 0 };
	char where[80];

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		conf_err(ld, g, "each calendar feed must be a group: { name = "
		    "\"diary\"; url = \"https://...\"; }");
		return;
	}
	f.every = CONF_CAL_EVERY;
	f.timeout = 30;
	f.line = config_setting_source_line(g);
	if (conf_get_str(ld, g, "name", &f.name) != CONF_SET) {
		conf_err(ld, g, "a calendar feed needs a name, e.g. name = "
		    "\"diary\"");
		f.name = xstrdup("?");
	} else if (!conf_cal_name_ok(f.name))
		conf_err(ld, conf_member(g, "name"), "feed name \"%s\" must be "
		    "lower-case letters, digits, '-' or '_' (at most 40)", f.name);
	for (size_t i = 0; i < c->calendar.nfeeds; i++)
		if (strcmp(c->calendar.feeds[i].name, f.name) == 0)
			conf_err(ld, conf_member(g, "name"), "two calendar feeds "
			    "are named \"%s\"", f.name);
	snprintf(where, sizeof(where), "calendar feed %s", f.name);
	conf_known_keys(ld, g, where, feed_keys);
	conf_cal_url(ld, g, &f);
	if (conf_get_dur(ld, g, "every", &f.every) == CONF_SET &&
	    f.every < CONF_CAL_MIN_EVERY)
		conf_err(ld, conf_member(g, "every"), "'every' must be at least "
		    "%lds", CONF_CAL_MIN_EVERY);
	if (conf_member(g, "match") == NULL)
		f.by_attendee = f.by_label = 1;
	else if (conf_get_strlist(ld, g, "match", match_names,
	    "[\"attendee\", \"label\"]", conf_cal_match, &f) == CONF_SET &&
	    !f.by_attendee && !f.by_label)
		conf_err(ld, conf_member(g, "match"), "'match' must name at "
		    "least one of \"attendee\", \"label\"");
	conf_get_str(ld, g, "ca_file", &f.ca_file);
	if (conf_get_dur(ld, g, "timeout", &f.timeout) == CONF_SET &&
	    f.timeout > 300)
		conf_err(ld, conf_member(g, "timeout"), "'timeout' must be at "
		    "most 5m");
	c->calendar.feeds = xrealloc(c->calendar.feeds,
	    (c->calendar.nfeeds + 1) * sizeof(*c->calendar.feeds));
	c->calendar.feeds[c->calendar.nfeeds++] = f;
}

void
conf_load_calendar(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g, *fs, *e;

	c->calendar.window = CONF_CAL_WINDOW;
	if ((g = conf_sub(ld, root, "calendar", calendar_keys)) == NULL)
		return;
	if (conf_get_dur(ld, g, "window", &c->calendar.window) == CONF_SET &&
	    c->calendar.window < 86400)
		conf_err(ld, conf_member(g, "window"), "calendar 'window' must "
		    "be at least 1d");
	if ((fs = conf_member(g, "feeds")) == NULL)
		return;
	if (config_setting_type(fs) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(fs) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(fs) == 0)) {
		conf_err(ld, fs, "'feeds' must be a list of groups: feeds = ( { "
		    "name = \"diary\"; url = \"https://...\"; } );");
		return;
	}
	for (int i = 0; (e = config_setting_get_elem(fs, (unsigned)i)) != NULL; i++)
		conf_cal_feed(ld, e);
}

void
conf_free_calendar(struct conf *c)
{
	for (size_t i = 0; i < c->calendar.nfeeds; i++) {
		free(c->calendar.feeds[i].name);
		xfree_secret(c->calendar.feeds[i].url);
		free(c->calendar.feeds[i].ca_file);
	}
	free(c->calendar.feeds);
}
