/*
 * model: the records every layer shares, and their vocabularies.
 *
 * The records (client, case, appointment, homework, message, a bad row;
 * calendar events and the decisions matched from them) are plain structs
 * that own their strings: free them with the matching *_free(), which
 * accepts a zeroed record.  The store fills them from the database, the
 * policy reads them, the engine passes them on; none of those needs the
 * others' headers for it.
 *
 * Each vocabulary has one enum and one name table here: the channel, an
 * appointment's kind and mode, a message's status and purpose, the
 * calendar's decisions.  The records hold the enums; strings are for the
 * database, the config and the command line: parse them at that edge with
 * *_parse(), write them with *_name().
 */
#ifndef NUDGED_MODEL_H
#define NUDGED_MODEL_H

#include <stddef.h>
#include <time.h>

enum chan {
	CHAN_EMAIL = 0,
	CHAN_SMS = 1,
	CHAN_N
};

const char	*chan_name(enum chan);		/* "email", "sms" */
int		 chan_parse(const char *, enum chan *);	/* 0 or -1 */

/* Appointment kinds (appointments.kind; rules' kinds = [...]). */
enum appt_kind {
	KIND_ASSESSMENT = 0,
	KIND_SESSION,
	KIND_CALL,
	KIND_N
};
const char	*appt_kind_name(enum appt_kind);	/* "assessment", ... */
int		 appt_kind_parse(const char *, enum appt_kind *);	/* 0 or -1 */
/* The kind names in order, NULL-terminated (config checks list them). */
extern const char *const appt_kind_names[];

/* Appointment modes (appointments.mode). */
enum appt_mode {
	MODE_IN_PERSON = 0,
	MODE_ONLINE,
	MODE_PHONE,
	MODE_N
};
const char	*appt_mode_name(enum appt_mode);	/* "in_person", ... */
int		 appt_mode_parse(const char *, enum appt_mode *);	/* 0 or -1 */
extern const char *const appt_mode_names[];	/* NULL-terminated */

/* An outbox row's status (messages.status; the states in store.h). */
enum msg_status {
	MSG_PENDING = 0,
	MSG_SENDING,
	MSG_SENT,
	MSG_FAILED,
	MSG_SKIPPED,
	MSG_CANCELLED,
	MSG_STATUS_N
};
extern const char *const msg_status_names[];	/* NULL-terminated */
const char	*msg_status_name(enum msg_status);
int		 msg_status_parse(const char *, enum msg_status *);	/* 0 or -1 */

/* Why a message exists (messages.purpose); the client-facing ones first. */
enum msg_purpose {
	PURPOSE_REMINDER = 0,
	PURPOSE_FOLLOW_UP,
	PURPOSE_CANCELLATION,
	PURPOSE_HOMEWORK,
	PURPOSE_MOVED,
	PURPOSE_TEST,
	PURPOSE_ALERT,
	PURPOSE_N
};
#define PURPOSE_CLIENT_N	(PURPOSE_MOVED + 1)	/* with templates */
extern const char *const msg_purpose_names[];	/* NULL-terminated */
const char	*msg_purpose_name(enum msg_purpose);
int		 msg_purpose_parse(const char *, enum msg_purpose *);	/* 0 or -1 */

/* ------------------------------------------------------- the practice's */

struct client {
	long long	 id;
	char		*name;
	char		*first_name;	/* as stored; NULL: first word of name */
	char		*email;		/* NULL or "" : none */
	char		*phone;		/* as typed */
	int		 email_consent;	/* the column is exactly 1 */
	int		 sms_consent;	/* the column is exactly 1 */
	int		 discreet;
	int		 opted_out;	/* opted_out_at is set */
};

struct appt {
	long long	 id;
	long long	 case_id;
	time_t		 starts_at;
	int		 duration_min;
	enum appt_kind	 kind;
	enum appt_mode	 mode;
	char		*video_url;	/* NULL: practice.video_url */
	int		 cancelled;	/* status = 'cancelled' */
	long long	 for_client;	/* 0: every member of the case */
};

struct kase {				/* "case" is a C keyword */
	long long	 id;
	char		*label;
	int		 closed;	/* closed_at is set */
	long long	*members;	/* client ids, ascending */
	size_t		 nmembers;
};

struct homework {
	long long	 id;
	long long	 case_id;
	char		*title;
	char		*prompt;
	int		 start_y, start_m, start_d;
	int		 has_end;
	int		 end_y, end_m, end_d;
	int		 every_days;
	int		 at;		/* minutes after local midnight; -1: homework.at */
	int		 active;
};

struct msg {
	long long	 id;		/* 0 for a row not yet inserted */
	enum msg_purpose purpose;
	long long	 appointment_id;/* 0: NULL */
	long long	 homework_id;
	long long	 client_id;
	enum chan	 channel;
	char		*recipient;
	time_t		 due_at;
	enum msg_status status;
	int		 attempts;
	char		*last_error;
	char		*provider_ref;
	time_t		 sent_at;
	/* nudged's own columns */
	char		*rule;		/* conf_rule.key, "cancel"; NULL otherwise */
	time_t		 appt_start;	/* the start time it was planned for */
	char		*occurrence;	/* homework: local date "YYYY-MM-DD" */
	char		*template;	/* template group from the rule, or NULL */
	time_t		 next_at;	/* next attempt after a transient failure; 0: due_at */
	int		 recovered;	/* uncertain attempts: found in 'sending' after a
					 * crash, or sent with no verdict back; a
					 * message is resent after one at most once */
	char		*detail;	/* the appointment's mode, duration and link
					 * as planned (plan_detail); NULL: unknown */
};

/* A row the store could not understand: reported, skipped, never fatal. */
struct bad_row {
	char		*table;
	long long	 id;
	char		*what;		/* e.g. "unreadable starts_at 'next tuesday'" */
};

/* A status change the planner wants: applied only if the row still has from. */
struct msg_change {
	long long	 id;
	enum msg_status	 from;		/* e.g. MSG_PENDING */
	enum msg_status	 to;		/* e.g. MSG_CANCELLED, MSG_SKIPPED */
	char		*reason;	/* last_error; NULL clears it */
	time_t		 due;		/* its new due_at (pending -> pending); 0: kept */
};

/*
 * What planning looks at: appointments that may still need a message
 * (every booked or cancelled appointment that starts after since), the
 * cases and clients they involve, active homework, and every message row
 * already planned for them.  Arrays are sorted by id.
 */
struct snapshot {
	struct appt	*appts;
	size_t		 nappts;
	struct kase	*cases;
	size_t		 ncases;
	struct client	*clients;
	size_t		 nclients;
	struct homework	*hw;
	size_t		 nhw;
	struct msg	*msgs;
	size_t		 nmsgs;
	struct bad_row	*bad;
	size_t		 nbad;
};
void	 snapshot_free(struct snapshot *);

void	 client_free(struct client *);
void	 appt_free(struct appt *);
void	 kase_free(struct kase *);
/* Deep copies into dst (its old contents are not freed); free dst with *_free. */
void	 client_copy(struct client *dst, const struct client *);
void	 appt_copy(struct appt *dst, const struct appt *);
void	 kase_copy(struct kase *dst, const struct kase *);
void	 homework_free(struct homework *);
void	 msg_free(struct msg *);
void	 bad_row_free(struct bad_row *);

/* Greeting name: first_name, else the first word of name. Caller frees. */
char	*client_first_name(const struct client *);
/* 1 when name holds nothing but blanks (or nothing): no one to greet. */
int	 client_name_blank(const struct client *);

/* The weekly summary's numbers for messages due in [from, to). */
struct week_reason {
	char	*reason;
	long	 n;
};

struct week_session {
	long long	 id;
	long long	 case_id;
	time_t		 starts_at;
	char		*label;		/* the case's label */
};

struct week_stats {
	long			 sent, failed, cancelled, skipped;
	struct week_reason	*skips;		/* skipped, by last_error */
	size_t			 nskips;
	long			 unreadable;	/* problems first seen in the week */
	char			*paused[2];	/* state pause.email / pause.sms */
	long long		*failed_ids;	/* failed messages (ids) */
	time_t			*failed_due;
	size_t			 nfailed_ids;
	struct week_session	*next;		/* booked in [to, next_to) */
	size_t			 nnext;
};
void	 week_stats_free(struct week_stats *);

/* ------------------------------------------------------------ calendars */

enum cal_status {
	CAL_BOOKED = 0,
	CAL_CANCELLED = 1
};

struct cal_event {
	char		*uid;
	char		*rid;		/* "" or "YYYYMMDDTHHMMSSZ" (original start) */
	time_t		 start;		/* UTC */
	int		 duration_min;	/* >= 1 */
	char		*summary;	/* NULL: none */
	char		*location;
	char		*url;		/* a meeting link, or NULL (see ical_read.c) */
	char		*case_label;	/* CSV only: a case named outright; else NULL */
	char		**attendees;	/* lower-case email addresses, not declined */
	size_t		 nattendees;
	int		 declined;	/* attendees who declined (not in attendees) */
	enum cal_status	 status;
	int		 line;		/* CSV: the record's first line; 0 for iCalendar */
	int		 beyond;	/* starts after the window: it only moves
					   an appointment already booked from it */
};

struct cal_bad {
	char		*uid;		/* may be "" when the event had none */
	char		*what;
};

struct cal_events {
	struct cal_event *v;
	size_t		 n;
	struct cal_bad	*bad;
	size_t		 nbad;
	size_t		 nall;		/* iCalendar: the VEVENTs in the text, in
					   the window or not, read or not */
};

void	 cal_events_free(struct cal_events *);
/* The strings of one record (not the record itself). */
void	 cal_event_free(struct cal_event *);
/* "UID" or "UID;RECURRENCE-ID=..." for appointments.source_uid; caller frees. */
char	*cal_event_key(const struct cal_event *);

struct cal_case {
	long long	 id;
	char		*label;
	int		 closed;
	char		**emails;	/* members' addresses, lower case */
	size_t		 nemails;
};

struct cal_appt {
	long long	 id;
	long long	 case_id;
	char		*key;		/* appointments.source_uid */
	time_t		 start;
	int		 duration_min;
	enum appt_mode	 mode;		/* MODE_N: the stored one is unknown */
	char		*video_url;
	int		 cancelled;
	int		 misses;	/* good syncs it has been missing from */
	int		 other;		/* booked by another source (see
					   cal_match.h): 1 an import (or, for an
					   import, a feed), 2 another feed */
};

enum cal_act {
	CAL_KEEP,	/* nothing to change */
	CAL_BOOK,
	CAL_MOVE,
	CAL_REBOOK,
	CAL_UPDATE,
	CAL_CANCEL,
	CAL_MISSING,	/* first miss: counted, nothing changed */
	CAL_UNMATCHED
};

struct cal_dec {
	enum cal_act	 act;
	const struct cal_event *ev;	/* NULL for MISSING and a missing CANCEL */
	long long	 appt_id;	/* 0 for BOOK and UNMATCHED */
	long long	 case_id;
	char		*key;
	time_t		 start;
	time_t		 old_start;	/* MOVE */
	int		 duration_min;
	enum appt_kind	 kind;
	enum appt_mode	 mode;
	char		*video_url;	/* NULL: practice.video_url */
	char		*why;		/* UNMATCHED, and CANCEL: the reason */
};

struct cal_plan {
	struct cal_dec	*v;
	size_t		 n;
};

const char *cal_act_name(enum cal_act);	/* "book", "move", ... */
void	 cal_plan_free(struct cal_plan *);
void	 cal_case_free(struct cal_case *);
void	 cal_appt_free(struct cal_appt *);

/* ------------------------------------------------- nudgectl's row views */

/*
 * Rows as nudgectl shows and checks them: text as stored (a value nudged
 * cannot read is still shown, not hidden or refused), flags as non-zero.
 * Filled by the store (store_client_row, ...); free with *_free(), which
 * accepts a zeroed record.
 */
struct client_row {
	long long	 id;
	char		*name;
	char		*first_name;	/* NULL: first word of name */
	char		*email;		/* NULL: none */
	char		*phone;		/* NULL: none */
	int		 email_consent, sms_consent, discreet;	/* non-zero */
	char		*opted_out_at;	/* as stored; NULL: not opted out */
};

struct case_row {
	long long	 id;
	char		*label;
	char		*closed_at;	/* as stored; NULL: open */
	long long	*member_ids;	/* store_case_rows only: ascending */
	char		**member_names;
	size_t		 nmembers;
};

struct appt_row {
	long long	 id;
	long long	 case_id;
	char		*starts_at;	/* as stored */
	int		 duration_min;	/* 0: NULL */
	char		*kind, *mode, *status;	/* as stored */
	char		*video_url;	/* NULL: none */
	long long	 for_client;	/* 0: every member */
	char		*case_label;	/* NULL: the case is gone */
	int		 case_closed;
};

struct homework_row {
	long long	 id;
	long long	 case_id;
	char		*case_label;	/* NULL: the case is gone */
	char		*title;
	char		*starts_on, *ends_on;	/* as stored; ends_on NULL: next session */
	int		 every_days;
	char		*at_time;	/* NULL: homework.at */
	int		 active;
};

void	 client_row_free(struct client_row *);
void	 case_row_free(struct case_row *);
void	 appt_row_free(struct appt_row *);
void	 homework_row_free(struct homework_row *);
/* An array of n rows and the rows' strings. */
void	 client_rows_free(struct client_row *, size_t n);
void	 case_rows_free(struct case_row *, size_t n);
void	 appt_rows_free(struct appt_row *, size_t n);
void	 homework_rows_free(struct homework_row *, size_t n);

#endif
