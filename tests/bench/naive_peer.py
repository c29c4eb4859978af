#!/usr/bin/python3
"""The naive peer: nudged's job as a competent developer would first write
it with Python's standard library, the anchor `make bench` compares with.

    naive_peer.py --db FILE --now T --smtp HOST:PORT --sms-url URL
                  --account SID --token TOKEN --from +44... [--before 3h]

It reads the contract's tables (booked appointments starting `before`
after now, at most a minute ahead, open cases, members who have not opted
out), and for each partner and channel with consent that has no row in
`messages` yet: sends the email with smtplib over one kept-open SMTP
connection, or the SMS with http.client over one kept-alive connection to a
Twilio-style API, then records the outcome in `messages` with its own
commit (WAL, synchronous=FULL: each outcome is durable before the next
message goes, like nudged's).  It keeps what a careful first version
would: consent and opt-out checks, one row per message, a Message-ID,
failures recorded.  It leaves out what nudged does beyond that (late
bookings, quiet hours, retries, rechecks, templates, discreet wording).
Prints "sent=N failed=M".
"""

import argparse
import base64
import datetime as dt
import email.message
import email.utils
import http.client
import json
import smtplib
import sqlite3
import sys
import urllib.parse
import zoneinfo

LONDON = zoneinfo.ZoneInfo("Europe/London")


def due_rows(con, now, before):
    """(appointment, client) pairs whose reminder is due at now."""
    lo = (now + before - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    hi = (now + before).strftime("%Y-%m-%dT%H:%M:%SZ")
    return con.execute(
        "SELECT a.id, a.starts_at, a.duration_min, a.mode, c.id, c.name,"
        " coalesce(c.first_name, c.name), c.email, c.phone, c.email_consent,"
        " c.sms_consent"
        " FROM appointments a JOIN cases k ON k.id = a.case_id"
        " JOIN case_members m ON m.case_id = a.case_id"
        " JOIN clients c ON c.id = m.client_id"
        " WHERE a.status = 'booked' AND k.closed_at IS NULL"
        " AND c.opted_out_at IS NULL AND a.starts_at > ? AND a.starts_at <= ?"
        " ORDER BY a.starts_at", (lo, hi)).fetchall()


def already(con, appt, client, channel, rule):
    return con.execute(
        "SELECT 1 FROM messages WHERE appointment_id = ? AND client_id = ?"
        " AND channel = ? AND rule = ?", (appt, client, channel, rule)).fetchone()


def record(con, appt, starts, client, channel, to, due, status, ref, error, rule):
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    con.execute(
        "INSERT INTO messages (purpose, appointment_id, client_id, channel,"
        " recipient, due_at, status, attempts, last_error, provider_ref, sent_at,"
        " rule, appt_start, created_at) VALUES"
        " ('reminder', ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
        (appt, client, channel, to, due, status, error, ref,
         stamp if status == "sent" else None, rule, starts, stamp))
    con.commit()


def e164(phone):
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return "+44" + digits.lstrip("0")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--now", required=True)
    ap.add_argument("--before", default="3")
    ap.add_argument("--smtp")
    ap.add_argument("--sms-url")
    ap.add_argument("--account", default="AC0123456789abcdef0123456789abcdef")
    ap.add_argument("--token", default="bench-token")
    ap.add_argument("--from", dest="sender", default="+447700900000")
    a = ap.parse_args(argv)
    now = dt.datetime.strptime(a.now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    before = dt.timedelta(hours=int(a.before))
    rule = f"before:{a.before}h"

    con = sqlite3.connect(a.db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA busy_timeout=10000")

    smtp = None
    if a.smtp:
        host, port = a.smtp.rsplit(":", 1)
        smtp = smtplib.SMTP(host, int(port), local_hostname="practice.example.org")
    sms = path = auth = None
    if a.sms_url:
        u = urllib.parse.urlsplit(a.sms_url)
        sms = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        path = f"/2010-04-01/Accounts/{a.account}/Messages.json"
        auth = "Basic " + base64.b64encode(f"{a.account}:{a.token}".encode()).decode()

    sent = failed = 0
    for (appt, starts, minutes, mode, client, name, first, addr, phone,
         email_ok, sms_ok) in due_rows(con, now, before):
        when = dt.datetime.strptime(starts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc).astimezone(LONDON)
        due = (when - before).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        date = f"{when:%A} {when.day} {when:%B %Y}"
        time = f"{when:%H:%M}"
        if smtp and addr and email_ok and not already(con, appt, client, "email", rule):
            msg = email.message.EmailMessage()
            msg["From"] = "Christian Hughes <appointments@example.org>"
            msg["To"] = email.utils.formataddr((name, addr))
            msg["Reply-To"] = "christian@example.org"
            msg["Subject"] = f"Your appointment on {date} at {time}"
            msg["Date"] = email.utils.formatdate(localtime=False)
            msgid = email.utils.make_msgid(domain="example.org")
            msg["Message-ID"] = msgid
            msg.set_content(
                f"Hello {first},\n\nThis is a reminder of your appointment with"
                f" Christian Hughes on {date} at {time} ({minutes} minutes,"
                f" {mode.replace('_', ' ')}).\n\nIf you cannot come, please"
                f" call 01384 000000.\n\nChristian Hughes\n")
            try:
                smtp.send_message(msg)
                record(con, appt, starts, client, "email", addr, due, "sent",
                       msgid.strip("<>"), None, rule)
                sent += 1
            except smtplib.SMTPException as e:
                record(con, appt, starts, client, "email", addr, due, "failed",
                       None, str(e)[:200], rule)
                failed += 1
        if sms and phone and sms_ok and not already(con, appt, client, "sms", rule):
            to = e164(phone)
            body = urllib.parse.urlencode({
                "To": to, "From": a.sender,
                "Body": f"Hi {first}, a reminder of your appointment with Christian"
                        f" Hughes on {date} at {time}."})
            try:
                sms.request("POST", path, body, {
                    "Authorization": auth,
                    "Content-Type": "application/x-www-form-urlencoded"})
                r = sms.getresponse()
                answer = r.read()
                if 200 <= r.status < 300:
                    record(con, appt, starts, client, "sms", to, due, "sent",
                           json.loads(answer)["sid"], None, rule)
                    sent += 1
                else:
                    record(con, appt, starts, client, "sms", to, due, "failed",
                           None, f"HTTP {r.status}", rule)
                    failed += 1
            except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                record(con, appt, starts, client, "sms", to, due, "failed",
                       None, str(e)[:200], rule)
                failed += 1
    if smtp:
        smtp.quit()
    if sms:
        sms.close()
    con.close()
    print(f"sent={sent} failed={failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
