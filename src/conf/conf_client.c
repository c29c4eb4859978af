/*
 * conf_client: the keys that shape what clients receive (issue 9) and the
 * discreet-mode checks.
 *
 *   practice.calls_client = true;      the free call: who calls whom
 *   practice.directions = "";          in person: parking, entrance
 *   practice.online_note = "";         online: one line on joining
 *   practice.discreet_address = true;  discreet clients see the address,
 *                                      in the text and in the calendar entry
 *   email.helo = "";                   EHLO name; empty: the domain of from
 *   email.discreet_from = "";          From for discreet clients
 *   email.discreet_reply_to = "";      Reply-To for discreet clients
 *   sms.discreet_from = "";            SMS sender for discreet clients
 *   sms.transliterate = true;          names simplified to GSM-7 in SMS
 *   notify_move = true;                a 'moved' notice to those reminded
 *
 * Discreet mode must not leak on a lock screen or in a mail list, so the
 * loader warns (it cannot know whether the database holds discreet
 * clients: --check-config never opens it) when what a discreet client
 * would see as sender or reply address holds a clinical word or a word of
 * the practice's or practitioner's name, and when a custom discreet
 * template does (or uses {{practice}} / {{practitioner}}).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_int.h"
#include "base/address.h"
#include "base/util.h"

/*
 * The clinical and practice words (documented in nudged.conf(5)); each
 * matches at the start of a word, in any case, so "psycho" also finds
 * psychotherapy and psychologist, and "session" sessions.
 */
static const char *const conf_clinical[] = {
	"therap",	/* therapy, therapist, therapeutic */
	"counsel",	/* counselling, counsellor, counseling, counselor */
	"psych",	/* psychotherapy, psychology, psychiatrist, psycho- */
	"clinic",	/* clinic, clinical, clinician */
	"session",
	"practice",
	"mental health",
	"marriage guidance",
	"relationship",
	NULL
};

/* 1 when word starts at text[i] (a word start: no letter before it). */
static int
conf_word_at(const char *text, size_t i, const char *word)
{
	if (i > 0 && isalpha((unsigned char)text[i - 1]))
		return 0;
	return strncasecmp(text + i, word, strlen(word)) == 0;
}

int
conf_clinical_word(const struct conf *c, const char *text, char *word,
    size_t wordlen)
{
	const char *names[2];

	if (text == NULL)
		return 0;
	names[0] = c->practice.name;
	names[1] = c->practice.practitioner;
	for (size_t i = 0; text[i] != '\0'; i++) {
		for (size_t k = 0; conf_clinical[k] != NULL; k++)
			if (conf_word_at(text, i, conf_clinical[k])) {
				snprintf(word, wordlen, "%s", conf_clinical[k]);
				return 1;
			}
		/*
		 * A name's words of four letters or more ("Hughes"), at the
		 * start of a word: sender ids run words together ("HughesRT").
		 */
		for (size_t k = 0; k < 2; k++) {
			const char *p = names[k];

			while (p != NULL && *p != '\0') {
				size_t n;

				p += strspn(p, " \t,.&-'");
				n = strcspn(p, " \t,.&-'");
				if (n >= 4 && (i == 0 ||
				    !isalpha((unsigned char)text[i - 1])) &&
				    strncasecmp(text + i, p, n) == 0) {
					snprintf(word, wordlen, "%.*s", (int)n, p);
					return 1;
				}
				p += n;
			}
		}
	}
	return 0;
}

/*
 * The bare address of "Name <addr>" or "addr"; caller frees; NULL when it
 * does not look like one.  (The full grammar is checked in mime.c when a
 * message is built; conf stays below the transports.)
 */
static char *
conf_bare_addr(const char *v)
{
	const char *lt, *gt;
	char *a;

	if (v == NULL)
		return NULL;
	if ((lt = strrchr(v, '<')) != NULL) {
		if ((gt = strchr(lt, '>')) == NULL || gt[1] != '\0')
			return NULL;
		a = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	} else {
		a = str_trim(v);
	}
	/* the grammar mime.c sends with: what passes here can be sent from */
	if (!address_valid(a)) {
		free(a);
		return NULL;
	}
	return a;
}

int
conf_addr_trim(char **v)
{
	char *t, *a;

	if (*v == NULL)
		return 0;
	t = str_trim(*v);
	free(*v);
	*v = t;
	if ((a = conf_bare_addr(t)) == NULL)
		return -1;
	free(a);
	return 0;
}

/*
 * The contract shows these keys' defaults as "": an empty string is the
 * default (none), not an error, unlike conf_get_str's required values.
 */
static int
conf_empty_key(const config_setting_t *g, const char *key)
{
	const config_setting_t *s = conf_member(g, key);
	const char *v;

	return s != NULL && config_setting_type(s) == CONFIG_TYPE_STRING &&
	    (v = config_setting_get_string(s)) != NULL && v[0] == '\0';
}

/* A plain address key: "Name <addr>" or "addr", one line; "": none. */
static void
conf_addr_key(struct conf_ld *ld, const config_setting_t *g, const char *key,
    char **out)
{
	if (conf_empty_key(g, key) || conf_get_str(ld, g, key, out) != CONF_SET)
		return;
	if (conf_addr_trim(out) != 0)
		conf_err(ld, conf_member(g, key), "'%s' must be an address, "
		    "\"Name <address>\" or \"address\"", key);
}

/* An optional text: empty means none. */
static void
conf_text_key(struct conf_ld *ld, const config_setting_t *g, const char *key,
    char **out)
{
	if (!conf_empty_key(g, key))
		(void)conf_get_str(ld, g, key, out);
}

static void
conf_check_helo(struct conf_ld *ld, const config_setting_t *g)
{
	const char *h = ld->c->email.helo;
	size_t i, n;

	if (h == NULL)
		return;
	n = strlen(h);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			break;
	if (i < n || n > 253 || h[0] == '.' || h[0] == '-' || h[n - 1] == '.')
		conf_err(ld, conf_member(g, "helo"), "'helo' must be a host "
		    "name such as \"mail.example.org\" (letters, digits, '-' "
		    "and '.')");
}

/* Warn when a discreet client would see word in what (key names it). */
static void
conf_leak(struct conf_ld *ld, const config_setting_t *s, const char *shown,
    const char *what, const char *fix)
{
	char w[64];

	if (shown != NULL && conf_clinical_word(ld->c, shown, w, sizeof(w)))
		conf_warn(ld, s, "discreet clients would see %s \"%s\", which "
		    "contains \"%s\"; %s", what, shown, w, fix);
}

static void
conf_check_senders(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *e = conf_member(root, "email");
	config_setting_t *sm = conf_member(root, "sms");
	config_setting_t *p = conf_member(root, "practice");
	char *bare;

	if (c->email.enabled) {
		if (c->email.discreet_from != NULL)
			conf_leak(ld, conf_member(e, "discreet_from"),
			    c->email.discreet_from, "the sender",
			    "choose a neutral email.discreet_from");
		else if ((bare = conf_bare_addr(c->email.from)) != NULL) {
			/* without discreet_from they get from's bare address */
			conf_leak(ld, conf_member(e, "from"), bare, "the sender",
			    "set email.discreet_from to a neutral address");
			free(bare);
		}
		if (c->email.discreet_reply_to != NULL)
			conf_leak(ld, conf_member(e, "discreet_reply_to"),
			    c->email.discreet_reply_to, "the reply address",
			    "choose a neutral email.discreet_reply_to");
		else
			conf_leak(ld, conf_member(p, "email"), c->practice.email,
			    "the reply address (practice.email)",
			    "set email.discreet_reply_to to a neutral address");
	}
	/*
	 * Their SMS give the place as it is: the meeting link of an online
	 * session, and the address unless practice.discreet_address = false.
	 */
	conf_leak(ld, conf_member(p, "video_url"), c->practice.video_url,
	    "the video link (practice.video_url)", "use a meeting link "
	    "without it, or book their sessions with a neutral video_url");
	if (c->practice.discreet_address)
		conf_leak(ld, conf_member(p, "address"), c->practice.address,
		    "the address (practice.address)", "set "
		    "practice.discreet_address = false to leave it out for them");
	if (c->sms.enabled) {
		if (c->sms.discreet_from != NULL)
			conf_leak(ld, conf_member(sm, "discreet_from"),
			    c->sms.discreet_from, "the SMS sender",
			    "choose a neutral sms.discreet_from");
		else
			conf_leak(ld, conf_member(sm, "from"), c->sms.from,
			    "the SMS sender", "set sms.discreet_from to a "
			    "number or a neutral sender name");
	}
}

/* Custom discreet templates: no clinical words, no practice names. */
static void
conf_check_discreet_tmpls(struct conf_ld *ld, const config_setting_t *root)
{
	config_setting_t *tg = conf_member(root, "templates");
	struct conf *c = ld->c;

	for (size_t i = 0; i < c->ntmpls; i++) {
		const struct conf_tmpl_group *t = &c->tmpls[i];
		const char *keys[3] = { "email_subject", "email_text", "sms" };
		const char *texts[3] = { t->email_subject, t->email_text, t->sms };
		size_t n = strlen(t->name);
		config_setting_t *g;
		char w[64];

		if (n < 9 || strcmp(t->name + n - 9, "_discreet") != 0)
			continue;
		g = conf_member(tg, t->name);
		for (size_t k = 0; k < 3; k++) {
			config_setting_t *at = conf_member(g, keys[k]);

			if (texts[k] == NULL)
				continue;
			if (strstr(texts[k], "{{practice}}") != NULL ||
			    strstr(texts[k], "{{practitioner}}") != NULL)
				conf_warn(ld, at, "template %s.%s names the "
				    "practice or practitioner, which a discreet "
				    "client's messages should not", t->name,
				    keys[k]);
			else if (conf_clinical_word(c, texts[k], w, sizeof(w)))
				conf_warn(ld, at, "template %s.%s contains "
				    "\"%s\", a word a discreet client's messages "
				    "should not carry", t->name, keys[k], w);
		}
	}
}

void
conf_load_client(struct conf_ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *p = conf_member(root, "practice");
	config_setting_t *e = conf_member(root, "email");
	config_setting_t *s = conf_member(root, "sms");

	/* Groups of the wrong type were reported by their own loaders. */
	if (p != NULL && config_setting_type(p) != CONFIG_TYPE_GROUP)
		p = NULL;
	if (e != NULL && config_setting_type(e) != CONFIG_TYPE_GROUP)
		e = NULL;
	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_GROUP)
		s = NULL;
	if (conf_get_bool(ld, p, "calls_client",
	    &c->practice.calls_client) == CONF_SET &&
	    !c->practice.calls_client && c->practice.phone == NULL)
		conf_warn(ld, conf_member(p, "calls_client"), "calls_client = "
		    "false asks clients to call, but practice.phone is not set: "
		    "the free call's reminder cannot say which number");
	conf_get_bool(ld, p, "discreet_address", &c->practice.discreet_address);
	conf_text_key(ld, p, "directions", &c->practice.directions);
	conf_text_key(ld, p, "online_note", &c->practice.online_note);
	conf_text_key(ld, e, "helo", &c->email.helo);
	conf_check_helo(ld, e);
	conf_addr_key(ld, e, "discreet_from", &c->email.discreet_from);
	conf_addr_key(ld, e, "discreet_reply_to", &c->email.discreet_reply_to);
	if (c->email.discreet_reply_to != NULL) {
		/* Reply-To carries the bare address */
		char *a = conf_bare_addr(c->email.discreet_reply_to);

		free(c->email.discreet_reply_to);
		c->email.discreet_reply_to = a;
	}
	conf_text_key(ld, s, "discreet_from", &c->sms.discreet_from);
	if (c->sms.discreet_from != NULL && !conf_one_line(c->sms.discreet_from))
		conf_err(ld, conf_member(s, "discreet_from"), "'discreet_from' "
		    "must be one line");
	else
		conf_sms_sender(ld, s, "discreet_from", &c->sms.discreet_from);
	conf_get_bool(ld, s, "transliterate", &c->sms.transliterate);
	conf_get_bool(ld, root, "notify_move", &c->notify_move);
	conf_check_senders(ld, root);
	conf_check_discreet_tmpls(ld, root);
}

void
conf_client_free(struct conf *c)
{
	free(c->practice.directions);
	free(c->practice.online_note);
	free(c->email.helo);
	free(c->email.discreet_from);
	free(c->email.discreet_reply_to);
	free(c->sms.discreet_from);
}
