/*
 * ical_dl: the libical functions nudged calls (base/ics.c writes entries,
 * transport/ical_read.c reads them), defined under their own names and
 * prototypes, each calling through a pointer that ical_dl_load fills from
 * the library opened at first use.  base/dl.h says why (idle RSS) and how.
 *
 * A new function is one line in ICAL_FNS; a prototype that differs from
 * libical's header does not compile.  (libical's one variadic call,
 * icalcomponent_vanew, is not used: ics.c adds the properties one by one.)
 */
#include <stddef.h>

#include <libical/ical.h>

#include "base/dl.h"
#include "base/ical_dl.h"

/* F(return type, name, (parameters), (arguments)); V: returns void */
#define ICAL_FNS(F, V) \
	V(icalcomponent_add_component, (icalcomponent *a, icalcomponent *b), \
	    (a, b)) \
	V(icalcomponent_add_property, (icalcomponent *a, icalproperty *b), \
	    (a, b)) \
	F(char *, icalcomponent_as_ical_string_r, (icalcomponent *a), (a)) \
	V(icalcomponent_free, (icalcomponent *a), (a)) \
	F(const char *, icalcomponent_get_description, (icalcomponent *a), \
	    (a)) \
	F(icalcomponent *, icalcomponent_get_first_component, \
	    (icalcomponent *a, icalcomponent_kind b), \
	    (a, b)) \
	F(icalproperty *, icalcomponent_get_first_property, \
	    (icalcomponent *a, icalproperty_kind b), \
	    (a, b)) \
	F(const char *, icalcomponent_get_location, (icalcomponent *a), (a)) \
	F(icalcomponent *, icalcomponent_get_next_component, \
	    (icalcomponent *a, icalcomponent_kind b), \
	    (a, b)) \
	F(icalproperty *, icalcomponent_get_next_property, \
	    (icalcomponent *a, icalproperty_kind b), \
	    (a, b)) \
	F(enum icalproperty_status, icalcomponent_get_status, \
	    (icalcomponent *a), \
	    (a)) \
	F(const char *, icalcomponent_get_summary, (icalcomponent *a), (a)) \
	F(icaltimezone *, icalcomponent_get_timezone, \
	    (icalcomponent *a, const char *b), \
	    (a, b)) \
	F(const char *, icalcomponent_get_uid, (icalcomponent *a), (a)) \
	F(icalcomponent_kind, icalcomponent_isa, (const icalcomponent *a), \
	    (a)) \
	F(icalcomponent *, icalcomponent_new, (icalcomponent_kind a), (a)) \
	F(int, icaldurationtype_as_int, (struct icaldurationtype a), (a)) \
	F(icalerrorenum *, icalerrno_return, (void), ()) \
	V(icalerror_set_errors_are_fatal, (int a), (a)) \
	F(const char *, icalerror_strerror, (icalerrorenum a), (a)) \
	F(icalparameter_partstat, icalparameter_get_partstat, \
	    (const icalparameter *a), \
	    (a)) \
	F(const char *, icalparameter_get_tzid, (const icalparameter *a), \
	    (a)) \
	F(icalparameter *, icalparameter_new_cn, (const char *a), (a)) \
	F(icalcomponent *, icalparser_parse_string, (const char *a), (a)) \
	V(icalproperty_add_parameter, (icalproperty *a, icalparameter *b), \
	    (a, b)) \
	F(const char *, icalproperty_get_attendee, (const icalproperty *a), \
	    (a)) \
	F(struct icaltimetype, icalproperty_get_dtend, \
	    (const icalproperty *a), \
	    (a)) \
	F(struct icaltimetype, icalproperty_get_dtstart, \
	    (const icalproperty *a), \
	    (a)) \
	F(struct icaldurationtype, icalproperty_get_duration, \
	    (const icalproperty *a), \
	    (a)) \
	F(struct icaltimetype, icalproperty_get_exdate, \
	    (const icalproperty *a), \
	    (a)) \
	F(icalparameter *, icalproperty_get_first_parameter, \
	    (icalproperty *a, icalparameter_kind b), \
	    (a, b)) \
	F(const char *, icalproperty_get_property_name, \
	    (const icalproperty *a), \
	    (a)) \
	F(struct icaldatetimeperiodtype, icalproperty_get_rdate, \
	    (const icalproperty *a), \
	    (a)) \
	F(struct icaltimetype, icalproperty_get_recurrenceid, \
	    (const icalproperty *a), \
	    (a)) \
	F(struct icalrecurrencetype, icalproperty_get_rrule, \
	    (const icalproperty *a), \
	    (a)) \
	F(enum icalproperty_transp, icalproperty_get_transp, \
	    (const icalproperty *a), \
	    (a)) \
	F(const char *, icalproperty_get_value_as_string, \
	    (const icalproperty *a), \
	    (a)) \
	F(const char *, icalproperty_get_xlicerror, (const icalproperty *a), \
	    (a)) \
	F(icalproperty_kind, icalproperty_isa, (icalproperty *a), (a)) \
	F(icalproperty *, icalproperty_new_attendee, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_calscale, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_description, (const char *a), \
	    (a)) \
	F(icalproperty *, icalproperty_new_dtend, (struct icaltimetype a), \
	    (a)) \
	F(icalproperty *, icalproperty_new_dtstamp, (struct icaltimetype a), \
	    (a)) \
	F(icalproperty *, icalproperty_new_dtstart, (struct icaltimetype a), \
	    (a)) \
	F(icalproperty *, icalproperty_new_location, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_method, \
	    (enum icalproperty_method a), \
	    (a)) \
	F(icalproperty *, icalproperty_new_organizer, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_prodid, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_sequence, (int a), (a)) \
	F(icalproperty *, icalproperty_new_status, \
	    (enum icalproperty_status a), \
	    (a)) \
	F(icalproperty *, icalproperty_new_summary, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_transp, \
	    (enum icalproperty_transp a), \
	    (a)) \
	F(icalproperty *, icalproperty_new_uid, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_url, (const char *a), (a)) \
	F(icalproperty *, icalproperty_new_version, (const char *a), (a)) \
	V(icalrecur_iterator_free, (icalrecur_iterator *a), (a)) \
	F(icalrecur_iterator *, icalrecur_iterator_new, \
	    (struct icalrecurrencetype a, struct icaltimetype b), \
	    (a, b)) \
	F(struct icaltimetype, icalrecur_iterator_next, \
	    (icalrecur_iterator *a), \
	    (a)) \
	F(int, icalrestriction_check, (icalcomponent *a), (a)) \
	F(const char *, icaltime_as_ical_string, \
	    (const struct icaltimetype a), \
	    (a)) \
	F(time_t, icaltime_as_timet_with_zone, \
	    (const struct icaltimetype a, const icaltimezone *b), \
	    (a, b)) \
	F(struct icaltimetype, icaltime_from_timet_with_zone, \
	    (const time_t a, const int b, const icaltimezone *c), \
	    (a, b, c)) \
	F(int, icaltime_is_date, (const struct icaltimetype a), (a)) \
	F(int, icaltime_is_null_time, (const struct icaltimetype a), (a)) \
	F(int, icaltime_is_utc, (const struct icaltimetype a), (a)) \
	F(icaltimezone *, icaltimezone_get_builtin_timezone, \
	    (const char *a), \
	    (a)) \
	F(icaltimezone *, icaltimezone_get_utc_timezone, (void), ())

/* X-macros: a type, a name or a parameter list is pasted whole */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define ICAL_FIELD(ret, f, params, args)	__typeof__(f) *f;
#define ICAL_VFIELD(f, params, args)		__typeof__(f) *f;

static struct {
	ICAL_FNS(ICAL_FIELD, ICAL_VFIELD)
} ical_fn;

#define ICAL_SYM(ret, f, params, args)	{ #f, &ical_fn.f },
#define ICAL_VSYM(f, params, args)	{ #f, &ical_fn.f },

static const struct dl_sym ical_syms[] = {
	ICAL_FNS(ICAL_SYM, ICAL_VSYM)
};
static struct dl_lib ical_lib = DL_LIB("libical.so.3", ical_syms);

int
ical_dl_load(char *err, size_t errlen)
{
	return dl_load(&ical_lib, err, errlen);
}

/* A call before ical_dl_load (a unit test) loads here. */
#define ICAL_NEED(f) do {						\
	if (ical_fn.f == NULL)						\
		dl_need(&ical_lib);					\
} while (0)

#define ICAL_DEF(ret, f, params, args)					\
	ret f params { ICAL_NEED(f); return ical_fn.f args; }
#define ICAL_VDEF(f, params, args)					\
	void f params { ICAL_NEED(f); ical_fn.f args; }

ICAL_FNS(ICAL_DEF, ICAL_VDEF)
/* NOLINTEND(bugprone-macro-parentheses) */
