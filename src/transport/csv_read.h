/*
 * csv_read: a booking tool's CSV export -> event records (ical_read.h).
 * Pure: no clock, no files, no logging.
 *
 * The layout (man nudgectl, "CSV"): a header line, then one appointment
 * per record.  Columns, by header name (any order, case ignored, unknown
 * columns skipped):
 *
 *   start       required: "YYYY-MM-DD HH:MM" (local), "...THH:MM:SSZ",
 *               "...+01:00", or "YYYY-MM-DD h:MM am|pm" (local)
 *   end         like start; or
 *   duration    minutes (default 60)
 *   email       the client's address(es), separated by ';' or spaces
 *   case        a case label, matched exactly (instead of, or with, email)
 *   summary, location, video_url
 *   status      booked (default; also confirmed, false, no) or cancelled
 *               (also canceled, true, yes)
 *   uid         the booking's id; without it: "csv:<start>:<email|case>"
 *
 * map renames columns for another tool's export, "start=Start Date &
 * Time,email=Invitee Email" (our name = their header), comma-separated.
 *
 * RFC 4180 quoting: a field in double quotes may hold commas, line breaks
 * and "" for a quote.  Any problem is an error naming the line: an import
 * takes the whole file or nothing.
 */
#ifndef NUDGED_CSV_READ_H
#define NUDGED_CSV_READ_H

#include <stddef.h>
#include <time.h>

#include "transport/ical_read.h"

/* Records starting in [from, to) into out.  0, or -1 with err ("line N: ..."). */
int	 csv_read(const char *text, size_t len, const char *map,
	    const char *video_url, time_t from, time_t to,
	    struct cal_events *out, char *err, size_t errlen);

#endif
