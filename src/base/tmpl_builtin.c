/*
 * tmpl_builtin: the built-in wording (see tmpl.h for the groups) and the
 * sample values --check-config renders every template with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tmpl.h"

/*
 * The built-in wording.  It reminds and never lectures: UK English, plain,
 * short.  Section tags in email texts stand on lines of their own, so a
 * missing value removes its whole line.  SMS texts use only the basic
 * GSM-7 alphabet (no curly quotes, dashes or braces) and stay within two
 * segments for realistic values (test_tmpl checks three with long ones);
 * a link in an SMS ends its line (compose.c turns the blank after it into
 * a line break).  Discreet groups name neither the practice nor the
 * practitioner, and avoid clinical words everywhere, not only where the
 * contract demands it.  `nudgectl templates` prints all of it.
 */

/* Replies reach practice.email (Reply-To), which the config requires. */
#define REPLY_EMAIL	"just reply to this email{{#practice_phone}} or " \
	"call {{practice_phone}}{{/practice_phone}}"
/* A reply to an SMS may reach nobody (alphanumeric senders). */
#define CONTACT_SMS	"{{#practice_phone}}call {{practice_phone}}" \
	"{{/practice_phone}}{{^practice_phone}}email {{practice_email}}" \
	"{{/practice_phone}}"
/* The practice's email address may carry its name: discreet SMS omit it. */
#define DISCREET_SMS(what) "{{#practice_phone}} " what ", call " \
	"{{practice_phone}}.{{/practice_phone}}"
/* The details block of every appointment email. */
#define WHEN_WHERE \
	"When: {{date}} at {{time}}{{#duration}} ({{duration}}){{/duration}}\n" \
	"{{#location}}\n" \
	"Where: {{location}}\n" \
	"{{/location}}\n" \
	"{{#directions}}\n" \
	"{{directions}}\n" \
	"{{/directions}}\n" \
	"{{#video_url}}\n" \
	"Join: {{video_url}}\n" \
	"{{/video_url}}\n" \
	"{{#online_note}}\n" \
	"{{online_note}}\n" \
	"{{/online_note}}\n"
#define SIGNED		"Best wishes,\n{{practitioner}}\n{{practice}}\n"
#define UNSIGNED	"Best wishes\n"
#define VIDEO_SMS	"{{#video_url}} Join: {{video_url}}{{/video_url}}"
/* "today, Thursday 3 December 2026, at 14:00" or "on Thursday ... at 14:00" */
#define DAY_SMS		"{{#when_relative}}{{when_relative}}{{#relative_day}}" \
	", {{date}}{{/relative_day}}{{/when_relative}}{{^when_relative}}on " \
	"{{date}}{{/when_relative}}"
#define WHEN_SMS	"{{#when_relative}}{{when_relative}}{{#relative_day}}" \
	", {{date}},{{/relative_day}}{{/when_relative}}{{^when_relative}}on " \
	"{{date}}{{/when_relative}} at {{time}}"
/*
 * After "to" or "is", no "on": "tomorrow, Friday 4 December 2026, at 14:00"
 * or "Friday 11 December 2026 at 15:00".
 */
#define WHEN_TO		"{{#relative_day}}{{relative_day}}, {{date}}, " \
	"{{/relative_day}}{{^relative_day}}{{date}} {{/relative_day}}at {{time}}"
/*
 * " tomorrow", " today", or nothing: the When: line below gives the date
 * and the length, so the opening sentence adds only what the date does
 * not say at a glance (not "on Thursday 3 December 2026" twice in a row).
 */
#define WHEN_REL	"{{#relative_day}} {{relative_day}}{{/relative_day}}"
#define NEXT_SESSION	"{{#next_date}} Your next appointment is on " \
	"{{next_date}}{{#next_time}} at {{next_time}}{{/next_time}}." \
	"{{/next_date}}"

/*
 * The assessment: "first" once, and nothing that reads wrongly when a free
 * phone call came before it.  Its length is on the When: line only.
 */
#define ASSESSMENT_BODY(both, single) \
	"{{^partner_first_name}}\n" single "\n\n{{/partner_first_name}}\n" \
	ASSESSMENT_PAIR(both)
/* The same with nothing for one alone in the case. */
#define ASSESSMENT_PAIR(both) \
	"{{#partner_first_name}}\n" both "\n\n{{/partner_first_name}}\n" \
	"This is a chance to talk at more length about what brings you, and " \
	"how you would like things to be. There " \
	"is no need to prepare anything, and there will be time for any " \
	"questions you have about how we work.\n"

/* The free call: who calls whom (practice.calls_client). */
#define CALL_WHO(who) \
	"{{#calls_client}}\n" \
	who " will call you at {{time}}.\n" \
	"{{/calls_client}}\n" \
	"{{^calls_client}}\n" \
	"Please call {{#practice_phone}}{{practice_phone}}{{/practice_phone}}" \
	"{{^practice_phone}}us{{/practice_phone}} at {{time}}.\n" \
	"{{/calls_client}}\n"
/*
 * " with Christian Hughes", unless the next sentence names the practitioner
 * already ("Christian Hughes will call you at 14:00").
 */
#define CALL_WITH	"{{^calls_client}} with {{practitioner}}{{/calls_client}}"
/* The call's details line: its length here, as in every WHEN_WHERE. */
#define CALL_WHEN \
	"When: {{date}} at {{time}}{{#duration}} ({{duration}}){{/duration}}\n\n"
#define CALL_WHO_SMS(who) \
	"{{#calls_client}} " who " will call you at {{time}}.{{/calls_client}}" \
	"{{^calls_client}} Please call{{#practice_phone}} {{practice_phone}}" \
	"{{/practice_phone}} at {{time}}.{{/calls_client}}"

#define HOMEWORK_BODY(next) \
	"Hello {{first_name}},\n\n" \
	"{{homework_title}}{{#day_number}} (day {{day_number}}){{/day_number}}" \
	"\n\n{{homework_prompt}}\n\n" \
	"Give it a go when you can, and notice how it feels. There is no " \
	"need to reply.{{#next_date}} " next " {{next_date}}{{#next_time}} at " \
	"{{next_time}}{{/next_time}}.{{/next_date}}\n\n"
#define HOMEWORK_SMS \
	"Hi {{first_name}}, today's practice: {{homework_title}}" \
	"{{#day_number}} (day {{day_number}}){{/day_number}}. " \
	"{{homework_prompt}} No need to reply."

/*
 * "today" for a follow-up sent on the appointment's day (an `after` of a
 * few hours), else "on Thursday 3 December 2026": never "on" today's date.
 */
#define WHEN_PAST	"{{#when_relative}}{{when_relative}}{{/when_relative}}" \
	"{{^when_relative}}on {{date}}{{/when_relative}}"
#define FOLLOW_UP_BODY \
	"Hello {{first_name}},\n\n" \
	"Thank you for your time " WHEN_PAST "." NEXT_SESSION "\n\n" \
	"If anything comes up in the meantime, " REPLY_EMAIL ".\n\n"

#define DECIDE(extra) \
	"{{#partner_first_name}}\n" \
	"When you are ready, take some time with {{partner_first_name}} to " \
	"decide together whether you would like to continue. There is no " \
	"rush.\n" \
	"{{/partner_first_name}}\n" \
	"{{^partner_first_name}}\n" \
	"When you are ready, take some time to decide whether you would " \
	"like to continue." extra " There is no rush.\n" \
	"{{/partner_first_name}}\n" \
	"\n" \
	"If you would like to book, " REPLY_EMAIL ", and we will find a time " \
	"that suits you.\n\n"
#define DECIDE_SMS \
	"Hi {{first_name}}, thank you for your time " WHEN_PAST ". When you " \
	"are ready, decide{{#partner_first_name}} with {{partner_first_name}}" \
	"{{/partner_first_name}} whether you would like to continue."

/* A change notice: moved (old_date set) or changed in place. */
#define MOVED_BODY(with) \
	"Hello {{first_name}},\n\n" \
	"{{#old_date}}\n" \
	"Your appointment" with " on {{old_date}} at {{old_time}} has moved. " \
	"The new time is " WHEN_TO ".\n" \
	"{{/old_date}}\n" \
	"{{^old_date}}\n" \
	"The details of your appointment" with " " WHEN_SMS " have changed. " \
	"This is how it is now:\n" \
	"{{/old_date}}\n" \
	"\n" WHEN_WHERE "\n" \
	"If this does not suit you, " REPLY_EMAIL ".\n\n"
/* Only the details changed (no old_date): what they are now, said so. */
#define MOVED_SMS(with) \
	"Hi {{first_name}}, {{#old_date}}your appointment" with " on " \
	"{{old_date}} at {{old_time}} has moved to " WHEN_TO "{{#location}}, " \
	"{{location}}{{/location}}.{{/old_date}}" \
	"{{^old_date}}the details of your appointment" with " " WHEN_SMS \
	" have changed.{{#location}} Where: {{location}}.{{/location}}" \
	"{{/old_date}}" VIDEO_SMS
/* The subject says "is now" only when the time moved. */
#define MOVED_SUBJECT(with) \
	"{{#old_date}}Changed: your appointment" with " is now on {{date}} " \
	"at {{time}}{{/old_date}}{{^old_date}}Changed: the details of your " \
	"appointment" with " on {{date}} at {{time}}{{/old_date}}"

struct builtin {
	const char	*group;
	const char	*text[3];	/* in the order of tmpl_keys */
};

static const struct builtin builtins[] = {
	{ "reminder", {
	    "Your appointment with {{practitioner}} on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your appointment with {{practitioner}}"
	    WHEN_REL ".\n\n"
	    WHEN_WHERE "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" SIGNED,
	    "Hi {{first_name}}, a reminder of your appointment with "
	    "{{practitioner}} " WHEN_SMS "{{#location}}, {{location}}"
	    "{{/location}}." VIDEO_SMS " To rearrange, " CONTACT_SMS "." } },
	{ "reminder_discreet", {
	    "Reminder: your appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your appointment" WHEN_REL ".\n\n"
	    WHEN_WHERE "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" UNSIGNED,
	    "Hi {{first_name}}, a reminder of your appointment " WHEN_SMS
	    "{{#location}}, {{location}}{{/location}}." VIDEO_SMS
	    DISCREET_SMS("To rearrange") } },
	{ "assessment", {
	    "Your first appointment with {{practitioner}} on {{date}} at "
	    "{{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your first appointment with "
	    "{{practitioner}}" WHEN_REL ".\n\n"
	    WHEN_WHERE "\n"
	    ASSESSMENT_BODY("It is for you and {{partner_first_name}} "
	    "together, so please both be there.",
	    "If you are coming as a couple, please both come.") "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" SIGNED,
	    "Hi {{first_name}}, a reminder of your first appointment with "
	    "{{practitioner}} " WHEN_SMS "{{#duration}} ({{duration}})"
	    "{{/duration}}{{#location}}, {{location}}{{/location}}." VIDEO_SMS
	    "{{#partner_first_name}} Please both be there.{{/partner_first_name}}"
	    " No need to prepare anything. To "
	    "rearrange, " CONTACT_SMS "." } },
	{ "assessment_discreet", {
	    "Reminder: your first appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your first appointment" WHEN_REL ".\n\n"
	    WHEN_WHERE "\n"
	    /*
	     * Alone in the case: nothing about a partner.  A discreet
	     * client may be one who comes alone because of the partner who
	     * reads the phone; that one line would say what this is.
	     */
	    ASSESSMENT_PAIR("It is for you and {{partner_first_name}} "
	    "together, so please both be there.") "\n"
	    "If you need to rearrange, " REPLY_EMAIL ".\n\n" UNSIGNED,
	    "Hi {{first_name}}, a reminder of your first appointment " WHEN_SMS
	    "{{#duration}} ({{duration}}){{/duration}}{{#location}}, "
	    "{{location}}{{/location}}." VIDEO_SMS "{{#partner_first_name}} "
	    "Please both be there.{{/partner_first_name}} No need to prepare "
	    "anything." DISCREET_SMS("To rearrange") } },
	{ "call", {
	    "Your phone call with {{practitioner}} on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your free phone call" CALL_WITH WHEN_REL
	    ".\n\n"
	    CALL_WHO("{{practitioner}}")
	    "\n"
	    CALL_WHEN
	    "There is nothing to prepare: it is a chance to say a little about "
	    "what you are looking for, and to ask any questions.\n\n"
	    "If the time no longer suits you, " REPLY_EMAIL ".\n\n" SIGNED,
	    "Hi {{first_name}}, a reminder of your free phone call"
	    "{{#duration}} ({{duration}}){{/duration}}" CALL_WITH " " DAY_SMS
	    "."
	    CALL_WHO_SMS("{{practitioner}}") " Nothing to prepare. To "
	    "rearrange, " CONTACT_SMS "." } },
	{ "call_discreet", {
	    "Reminder: your phone call on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Just a reminder of your phone call" WHEN_REL ".\n\n"
	    CALL_WHO("We")
	    "\n"
	    CALL_WHEN
	    "There is nothing to prepare.\n\n"
	    "If the time no longer suits you, " REPLY_EMAIL ".\n\n" UNSIGNED,
	    "Hi {{first_name}}, a reminder of your phone call "
	    DAY_SMS "."
	    CALL_WHO_SMS("We") " Nothing to prepare."
	    DISCREET_SMS("To rearrange") } },
	{ "cancellation", {
	    "Cancelled: your appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Your appointment with {{practitioner}} " WHEN_SMS " has been "
	    "cancelled.\n\n"
	    "If you would like to arrange another time, " REPLY_EMAIL ".\n\n"
	    SIGNED,
	    "Hi {{first_name}}, your appointment with {{practitioner}} "
	    WHEN_SMS " has been cancelled. To arrange another time, "
	    CONTACT_SMS "." } },
	{ "cancellation_discreet", {
	    "Cancelled: your appointment on {{date}} at {{time}}",
	    "Hello {{first_name}},\n\n"
	    "Your appointment " WHEN_SMS " has been cancelled.\n\n"
	    "If you would like to arrange another time, " REPLY_EMAIL ".\n\n"
	    UNSIGNED,
	    "Hi {{first_name}}, your appointment " WHEN_SMS " has been "
	    "cancelled." DISCREET_SMS("To arrange another time") } },
	{ "moved", {
	    MOVED_SUBJECT(" with {{practitioner}}"),
	    MOVED_BODY(" with {{practitioner}}") SIGNED,
	    MOVED_SMS(" with {{practitioner}}") " If this does not suit you, "
	    CONTACT_SMS "." } },
	{ "moved_discreet", {
	    MOVED_SUBJECT(""),
	    MOVED_BODY("") UNSIGNED,
	    MOVED_SMS("") DISCREET_SMS("If this does not suit you") } },
	{ "homework", {
	    "For today: {{homework_title}}",
	    HOMEWORK_BODY("We can talk about it when we meet on")
	    "Warm wishes,\n{{practitioner}}\n",
	    HOMEWORK_SMS " {{practitioner}}" } },
	{ "homework_discreet", {
	    "For today{{#homework_title}}: {{homework_title}}{{/homework_title}}",
	    HOMEWORK_BODY("We can talk about it at your next appointment on")
	    UNSIGNED,
	    HOMEWORK_SMS } },
	{ "follow_up", {
	    "Thank you for your time on {{date}}",
	    FOLLOW_UP_BODY SIGNED,
	    "Hi {{first_name}}, thank you for your time " WHEN_PAST "."
	    NEXT_SESSION " {{practitioner}}" } },
	{ "follow_up_discreet", {
	    "Following your appointment on {{date}}",
	    FOLLOW_UP_BODY UNSIGNED,
	    "Hi {{first_name}}, thank you for your time " WHEN_PAST "."
	    NEXT_SESSION } },
	{ "assessment_follow_up", {
	    "After your first appointment on {{date}}",
	    "Hello {{first_name}},\n\n"
	    "Thank you for your time " WHEN_PAST ".\n\n"
	    DECIDE(" If you came as a couple, it helps to decide together.")
	    SIGNED,
	    DECIDE_SMS " To book, " CONTACT_SMS ". {{practitioner}}" } },
	{ "assessment_follow_up_discreet", {
	    "Following your first appointment on {{date}}",
	    "Hello {{first_name}},\n\n"
	    "Thank you for your time " WHEN_PAST ".\n\n"
	    DECIDE("") UNSIGNED,
	    DECIDE_SMS DISCREET_SMS("To book") } },
	{ "alert", {
	    "nudged: some messages could not be delivered",
	    "Hello,\n\n"
	    "nudged could not deliver some messages, or could not read some "
	    "of the data it needs:\n\n"
	    "{{summary}}\n\n"
	    "To see the state of things, run: nudgectl status\n",
	    "nudged: some messages could not be delivered. The details are in "
	    "the alert email, or run: nudgectl status" } },
};

const char *const tmpl_groups[] = {
	"reminder", "assessment", "call", "cancellation", "moved", "homework",
	"follow_up", "assessment_follow_up", "alert",
	"reminder_discreet", "assessment_discreet", "call_discreet",
	"cancellation_discreet", "moved_discreet", "homework_discreet",
	"follow_up_discreet", "assessment_follow_up_discreet", NULL
};

const char *const tmpl_keys[] = { "email_subject", "email_text", "sms",
    NULL };

static const struct builtin *
builtin_find(const char *group)
{
	if (group == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i].group, group) == 0)
			return &builtins[i];
	return NULL;
}

const char *
tmpl_builtin(const char *group, const char *key)
{
	const struct builtin *b;

	if ((b = builtin_find(group)) == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; tmpl_keys[i] != NULL; i++)
		if (strcmp(tmpl_keys[i], key) == 0)
			return b->text[i];
	return NULL;
}

int
tmpl_builtin_group(const char *group)
{
	return builtin_find(group) != NULL;
}

static const struct tmpl_var samples[] = {
	{ "first_name",		"Alexandra" },
	{ "name",		"Alexandra Montgomery-Whitfield" },
	{ "date",		"Wednesday 30 September 2026" },
	{ "time",		"14:00" },
	{ "duration",		"90 minutes" },
	{ "kind",		"assessment" },
	{ "mode",		"online" },
	{ "location",		"online" },
	{ "video_url",		"https://meet.example.org/room-042" },
	{ "practice",		"Hughes Relationship Therapy" },
	{ "practitioner",	"Christian Hughes" },
	{ "practice_phone",	"01384 000000" },
	{ "practice_email",	"christian@example.org" },
	{ "homework_title",	"Pause before replying" },
	{ "homework_prompt",	"When you feel a sharp reply rising, take "
				"three slow breaths first, then say what you "
				"need rather than what went wrong." },
	{ "day_number",		"3" },
	{ "next_date",		"Wednesday 14 October 2026" },
	{ "next_time",		"14:00" },
	{ "partner_first_name",	"Christopher" },
	{ "when_relative",	"tomorrow" },
	{ "relative_day",	"tomorrow" },
	{ "old_date",		"Tuesday 29 September 2026" },
	{ "old_time",		"16:30" },
	{ "calls_client",	"yes" },
	{ "online_note",	"Please join from a private space; one device "
				"or two, as you prefer." },
	{ "directions",		"Parking behind the building; the entrance is "
				"in Mill Lane." },
	{ "summary",		"message 42 (client 7, appointment 12 on "
				"Wednesday 30 September 2026): sms failed: "
				"invalid number" },
};

const struct tmpl_var *
tmpl_sample(size_t *nvars)
{
	*nvars = sizeof(samples) / sizeof(samples[0]);
	return samples;
}
