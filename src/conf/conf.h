/*
 * conf: the configuration file (libconfig syntax), validated as a whole.
 *
 * conf_load() reads every key of the contract, applies defaults, checks
 * types, ranges, durations, the time zone, the rules and every template,
 * and collects *all* problems as "FILE:LINE: message" (or "FILE: message"
 * when there is no line) before failing, so a practitioner fixes the file
 * in one go.  Unknown keys are errors.  Warnings (a rule on a channel that
 * is off, an SMS template that may run over max_segments) do not fail.
 *
 * Secrets (email.password, sms.token) come inline, from *_file, or from
 * $CREDENTIALS_DIRECTORY/{smtp-password,sms-token}, in that precedence; one
 * trailing newline is dropped.  Two ways at once is an error, and so is an
 * inline secret in a file readable by group or others.  Secrets are wiped
 * by conf_free().
 *
 * The struct conf is owned by whoever called conf_load(); every string in
 * it is a private copy (libconfig's strings die with its config_t).
 */
#ifndef NUDGED_CONF_H
#define NUDGED_CONF_H

#include <stddef.h>

#include "model/model.h"


struct conf_rule {
	long		 before;	/* seconds; 0 when this is an after-rule */
	long		 after;		/* seconds after the appointment ends; 0 for before-rules */
	enum chan	 channel;
	enum appt_kind	*kinds;		/* NULL: every kind */
	size_t		 nkinds;
	char		*template;	/* NULL: by purpose and kind */
	int		 line;
	/*
	 * Identity of the rule inside the outbox: "b172800" or "a86400".
	 * With channel, appointment, start time and client it names one
	 * message row for ever (the contract's dedupe invariant).
	 */
	char		 key[24];
};

/* calendar.feeds[] (issue 10): a calendar nudged follows. */
struct conf_feed {
	char	*name;		/* [a-z0-9_-], unique; the source is "feed:<name>" */
	char	*url;		/* https://..., or a file path; a secret */
	long	 every;		/* seconds between fetches, default 600 */
	int	 by_attendee;	/* match = ["attendee", "label"] (default both) */
	int	 by_label;
	char	*ca_file;	/* NULL: the system's CAs */
	long	 timeout;	/* seconds, default 30 */
	int	 line;
};

struct conf_tmpl_group {
	char	*name;
	char	*email_subject;	/* NULL: fall back (see conf_tmpl_text) */
	char	*email_text;
	char	*sms;
	int	 line;
};

struct conf {
	char	*path;

	struct {
		char	*name;
		char	*practitioner;
		char	*timezone;	/* default "Europe/London" */
		char	*email;
		char	*phone;		/* NULL when absent */
		char	*address;
		char	*video_url;
		char	**closed;	/* practice.closed: local dates "YYYY-MM-DD" */
		size_t	 nclosed;
		/* issue 9: what clients receive (conf_client.c) */
		int	 calls_client;	/* the free call: we call them; default 1 */
		char	*directions;	/* in person: parking, entrance; NULL: none */
		char	*online_note;	/* online: one line on joining; NULL: none */
		int	 discreet_address; /* address to discreet clients; default 1 */
	} practice;

	char	*database;		/* default "/var/lib/nudged/nudged.db" */

	struct {
		int	 enabled;
		char	*url;
		int	 tls_required;	/* tls = "required" (1) | "none" (0) */
		char	*ca_file;	/* NULL: system default */
		char	*username;	/* NULL: no AUTH */
		char	*password;	/* resolved secret, NULL if none */
		char	*from;		/* "Name <addr>" or "addr" */
		long	 timeout;	/* seconds, default 30 */
		long	 connections;	/* SMTP connections in parallel, default 1 */
#define CONF_EMAIL_CONNECTIONS_MAX	16
		int	 calendar;	/* default 1 */
		int	 html;		/* default 0 */
		char	*helo;		/* EHLO name; NULL: the domain of from */
		char	*discreet_from;	/* NULL: from, without its display name */
		char	*discreet_reply_to; /* NULL: practice.email */
	} email;

	struct {
		int	 enabled;
		char	*provider;	/* "twilio" | "vonage" | "generic" */
		char	*url;
		char	*account;
		char	*token;		/* resolved secret */
		char	*from;
		char	*region;	/* default "GB" */
		char	*ca_file;
		long	 max_segments;	/* default 3 */
		long	 concurrency;	/* default 4 */
		int	 fallback_email;/* default 1 */
		long	 timeout;	/* seconds, default 30 */
		/* generic provider */
		char	*method;	/* default "POST" */
		char	**headers;
		size_t	 nheaders;
		char	*content_type;	/* default "application/x-www-form-urlencoded" */
		char	*body;
		char	*id_field;
		char	*discreet_from;	/* NULL: from */
		int	 transliterate;	/* names simplified to GSM-7; default 1 */
	} sms;

	struct conf_rule *rules;
	size_t	 nrules;
	long	 late_limit;		/* seconds, default 3600 */
	int	 notify_cancellation;	/* default 1 */
	int	 notify_move;		/* default 1 */

	struct {
		int	 at;		/* minutes after local midnight, default 19:00 */
		int	 channels[CHAN_N];	/* default both */
	} homework;

	struct {
		int	 from;		/* minutes after local midnight, default 21:00 */
		int	 to;		/* default 08:00 */
		int	 channels[CHAN_N];	/* default sms only */
	} quiet;

	struct {
		long	 attempts;	/* default 8 */
		long	 first;		/* seconds, default 60 */
		long	 max;		/* seconds, default 3600 */
	} retry;

	long	 alerts_every;		/* seconds, default 3600 */

	struct {
		long	 window;	/* seconds ahead, default 60 days */
		struct conf_feed *feeds;
		size_t	 nfeeds;
	} calendar;
	struct {				/* issue 14 (conf_privacy.c) */
		long	 keep_messages;		/* seconds; 0: keep; default 400d */
		long	 keep_appointments;	/* seconds; 0: keep (default) */
	} privacy;

	struct {				/* alerts.weekly, alerts.names */
		int	 on;			/* default off ("") */
		int	 wday;			/* 0 Sunday .. 6 Saturday */
		int	 minute;		/* local, after midnight */
		int	 names;			/* name clients; default 0 */
	} weekly;

	struct conf_tmpl_group *tmpls;
	size_t	 ntmpls;
};

/* A list of diagnostic lines, each already "FILE:LINE: message". */
struct conf_diag {
	char	**lines;
	size_t	 n;
};

/*
 * Load and validate path.  On success returns 0 and *out (free with
 * conf_free); on failure -1 with every problem in errs.  warns may be NULL.
 */
int	 conf_load(const char *path, struct conf **out, struct conf_diag *errs,
	    struct conf_diag *warns);
void	 conf_free(struct conf *);
void	 conf_diag_free(struct conf_diag *);

/* 1 when the config defines a group of that name, or it is built in. */
int	 conf_tmpl_defined(const struct conf *, const char *group);
/*
 * Text for one key of a template group, following the contract's
 * fallbacks: the config's group, else the built-in group of the same
 * name, else the built-in group named fallback (the message's purpose,
 * e.g. "reminder" or "reminder_discreet").  Never NULL for a valid conf.
 */
const char *conf_tmpl_text(const struct conf *, const char *group,
	    const char *key, const char *fallback);

/*
 * The first clinical or practice word in text (the list in conf_client.c,
 * plus the words of practice.name and practice.practitioner), copied into
 * word; 0 when there is none.  Matches at the start of a word, any case.
 */
int	 conf_clinical_word(const struct conf *, const char *text, char *word,
	    size_t wordlen);

/* 1 when channel ch has quiet hours. */
int	 conf_quiet_on(const struct conf *, enum chan);
/* 1 when a local time (minutes after midnight) is inside ch's quiet hours. */
int	 conf_quiet_at(const struct conf *, enum chan, int minute);

#endif
