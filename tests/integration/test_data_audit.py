"""Data care under hostile inputs (data audit): subject access export of a
client in two cases, odd data in export and erasure, client delete and a
re-used id, the calendar cache and old outbox details after erasure and
retention."""

import json
import os
import sqlite3

from conftest import (ROOT, build_shim, mails_to, preload_env, rules, shift,
                      text_body)

T = "2026-12-03T14:00:00Z"
DUE_48H = shift(T, hours=-48)


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def two_cases(practice):
    """Sam in a couple with Alex and in a case of their own; Alex in a case
    of their own too, with a call booked for Alex alone in the couple's."""
    sam = practice.add_client("Sam Taylor", email="sam@example.org",
                              phone="07700 900123", sms_consent=1)
    alex = practice.add_client("Alex Morgan", email="alex.m@example.org",
                               phone="07700 900456", sms_consent=1)
    couple = practice.add_case("Sam & Alex", [sam, alex])
    solo = practice.add_case("Sam (individual)", [sam])
    alex_solo = practice.add_case("Alex alone", [alex])
    a1 = practice.book(couple, T)
    a2 = practice.book(solo, shift(T, days=1))
    a3 = practice.book(alex_solo, shift(T, days=2), mode="online",
                       video_url="https://meet.example.org/alex-private")
    call = practice.book(couple, shift(T, days=3), kind="call")
    practice.set("UPDATE appointments SET for_client = ? WHERE id = ?",
                 alex, call)
    return sam, alex, couple, solo, alex_solo, (a1, a2, a3, call)


def test_export_of_a_client_in_two_cases_holds_nothing_of_the_partner(
        practice, smtp):
    practice.write_conf(reminders=rules("48h"))
    practice.init()
    sam, alex, couple, solo, alex_solo, (a1, a2, a3, call) = \
        two_cases(practice)
    ok(practice.once(DUE_48H))
    ok(practice.once(shift(T, days=2, hours=-48)))
    assert mails_to(smtp, "alex.m@example.org")
    for fmt in ("json", "text"):
        out = ok(practice.ctl("client", "export", str(sam), "--format",
                              fmt)).stdout
        for needle in ("alex.m@example.org", "07700 900456", "+447700900456",
                       "alex-private", "Alex alone"):
            assert needle not in out, (fmt, needle)
    data = json.loads(ok(practice.ctl("client", "export", str(sam))).stdout)
    assert sorted(c["id"] for c in data["cases"]) == [couple, solo]
    assert sorted(a["id"] for a in data["appointments"]) == [a1, a2]
    assert all(m["client_id"] == sam for m in data["messages"])


ODD_NAME = 'O\'Brien "Jo" \u202eevil\u202c \U0001F600 line\nbreak'
LONG = "x" * 20000


def odd_client(practice):
    c = practice.add_client(ODD_NAME, email="jo@example.org",
                            phone="07700 900789", first_name="Jo\tJo")
    # a booking tool wrote bytes that are not UTF-8 (Latin-1 "Zoë")
    practice.set("UPDATE clients SET first_name = CAST(x'5a6febff' AS TEXT)"
                 " WHERE id = ?", c)
    case = practice.add_case(ODD_NAME + LONG, [c])
    practice.set("INSERT INTO homework (case_id, title, prompt, starts_on)"
                 " VALUES (?, ?, CAST(x'4b6565702063616c6d20e2809420' ||"
                 " x'f09f9880' || x'c0' AS TEXT), '2026-12-01')", case,
                 "Pause \U0001F600")
    return c, case



def test_export_of_odd_data_is_valid_and_faithful(practice):
    practice.write_conf(email=False)
    practice.init()
    c, case = odd_client(practice)
    r = ok(practice.ctl("client", "export", str(c)))
    data = json.loads(r.stdout)
    assert data["client"]["name"] == ODD_NAME
    assert data["cases"][0]["label"] == ODD_NAME + LONG
    assert data["homework"][0]["title"] == "Pause \U0001F600"
    # the valid part of a partly invalid value is kept as it was
    assert "\u2014" in data["homework"][0]["prompt"]
    assert "\U0001F600" in data["homework"][0]["prompt"]
    assert data["homework"][0]["prompt"].endswith("\U0001F600\ufffd")
    assert data["client"]["first_name"] == "Zo\ufffd\ufffd"
    t = ok(practice.ctl("client", "export", str(c), "--format", "text"))
    lines = t.stdout.splitlines()
    assert any(l.startswith("  name: O'Brien") for l in lines)
    assert any(len(l) > 20000 for l in lines)
    # text for the client to read: valid UTF-8 too, one value a line
    assert "  first_name: Zo\ufffd\ufffd" in lines
    assert any(l.endswith("line break") for l in lines)


def file_has(practice, needle):
    """needle (any case) in the database file or its -wal, byte for byte."""
    n = needle.lower().encode()
    for suffix in ("", "-wal"):
        p = f"{practice.db}{suffix}"
        if os.path.exists(p) and n in open(p, "rb").read().lower():
            return p
    return None


def test_forget_odd_names_leaves_no_trace(practice):
    practice.write_conf(email=False)
    practice.init()
    c, case = odd_client(practice)
    practice.set("INSERT INTO homework (case_id, title, prompt, starts_on)"
                 " VALUES (?, 'Notes', ?, '2026-12-01')", case,
                 "Ask " + ODD_NAME + " about jo@example.org")
    ok(practice.ctl("client", "forget", str(c), "--yes"))
    for needle in (ODD_NAME, "jo@example.org", "07700 900789",
                   "+447700900789", "Zo\u00eb"):
        assert not file_has(practice, needle), needle
    assert not file_has(practice, "line\nbreak")


def test_forget_reaches_the_calendar_cache(practice):
    practice.write_conf(email=False)
    practice.init()
    sam = practice.add_client("Sam Taylor", email="sam@example.org")
    practice.add_case("Sam", [sam])
    body = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Sam Taylor"
            b"\r\nATTENDEE:mailto:SAM@example.org\r\nEND:VEVENT\r\n"
            b"END:VCALENDAR\r\n")
    practice.set("INSERT INTO calendar_feeds (name, etag, body, last_ok)"
                 " VALUES ('diary', '\"e1\"', ?, '2026-12-01T00:00:00Z')",
                 sqlite3.Binary(body))
    ok(practice.ctl("client", "forget", str(sam), "--yes"))
    for needle in ("Sam Taylor", "sam@example.org"):
        assert not file_has(practice, needle), needle


def test_delete_leaves_nothing_for_a_new_client_with_the_same_id(practice):
    practice.write_conf(email=False)
    practice.init()
    ok(practice.ctl("client", "add", "--name", "Wrong Person",
                    "--email", "wrong@example.org"))
    [w] = practice.query("SELECT id FROM clients")
    ok(practice.ctl("client", "edit", str(w["id"]), "--no-email-consent"))
    ok(practice.ctl("client", "delete", str(w["id"])))
    for needle in ("Wrong Person", "wrong@example.org"):
        assert not file_has(practice, needle), needle
    ok(practice.ctl("client", "add", "--name", "Right Person",
                    "--email", "wrong@example.org"))
    [r] = practice.query("SELECT id FROM clients")
    data = json.loads(ok(practice.ctl("client", "export",
                                      str(r["id"]))).stdout)
    # the new client never withdrew consent: no history of someone else's
    assert all(e["what"] != "email_consent" or e["new_value"] == 1
               for e in data["consent_log"]), data["consent_log"]
    show = ok(practice.ctl("client", "show", str(r["id"]))).stdout
    assert "1 -> 0" not in show, show


def test_retention_takes_the_video_link_from_the_outbox_too(practice, smtp):
    link = "https://meet.example.org/room-sam-taylor"
    practice.write_conf(reminders=rules("48h"),
                        privacy={"keep_messages": "400d",
                                 "keep_appointments": "30d"})
    practice.init()
    sam = practice.add_client("Sam Taylor", email="sam@example.org")
    case = practice.add_case("Sam", [sam])
    appt = practice.book(case, T, mode="online", video_url=link)
    later = practice.book(case, shift(T, days=60), mode="online",
                          video_url=link + "-2")
    ok(practice.once(DUE_48H))
    [m] = practice.messages("status = 'sent'")
    assert link in m["detail"]          # what the reminder said
    ok(practice.once(shift(T, days=35)))
    assert practice.query("SELECT video_url FROM appointments WHERE id = ?",
                          appt)[0]["video_url"] is None
    for t, c, v in every_text_value(practice.db):
        assert link not in v or (t == "appointments" and v == link + "-2"), \
            (t, c, v)
    assert later


def test_retention_of_messages_leaves_no_link(practice, smtp):
    link = "https://meet.example.org/room-sam-taylor"
    practice.write_conf(reminders=rules("48h"),
                        privacy={"keep_messages": "400d"})
    practice.init()
    sam = practice.add_client("Sam Taylor", email="sam@example.org")
    case = practice.add_case("Sam", [sam])
    practice.book(case, T, mode="online", video_url=link)
    ok(practice.once(DUE_48H))
    practice.set("UPDATE appointments SET video_url = NULL")  # a tool's tidy
    ok(practice.once(shift(T, days=401)))
    for t, c, v in every_text_value(practice.db):
        assert link not in v, (t, c, v)


def every_text_value(db):
    con = sqlite3.connect(str(db))
    try:
        out = []
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE"
                                " type = 'table'").fetchall():
            cur = con.execute(f'SELECT * FROM "{t}"')
            cols = [d[0] for d in cur.description]
            for row in cur:
                out += [(t, c, str(v)) for c, v in zip(cols, row)
                        if v is not None]
        return out
    finally:
        con.close()


# SQLite's own default is secure_delete off (Debian builds it on): a deleted
# or overwritten value then stays in the file's free space.  The shim makes
# every connection nudged opens start as upstream SQLite's would.
NO_SECURE_DELETE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sqlite3.h>
int sqlite3_open_v2(const char *f, sqlite3 **db, int fl, const char *vfs)
{
	int (*real)(const char *, sqlite3 **, int, const char *) =
	    (int (*)(const char *, sqlite3 **, int, const char *))
	    dlsym(RTLD_NEXT, "sqlite3_open_v2");
	int r = real(f, db, fl, vfs);
	if (r == SQLITE_OK)
		sqlite3_exec(*db, "PRAGMA secure_delete = OFF", 0, 0, 0);
	return r;
}
"""


def test_delete_and_retention_overwrite_what_they_remove(practice, smtp,
                                                         tmp_path):
    shim = build_shim(tmp_path, "nosecdel", NO_SECURE_DELETE)
    env = preload_env(shim)
    practice.write_conf(reminders=rules("48h"),
                        privacy={"keep_messages": "400d"})
    practice.init()
    ok(practice.ctl("client", "add", "--name", "Wrong Person", "--email",
                    "wrong.person@example.org", env=env))
    [w] = practice.query("SELECT id FROM clients")
    ok(practice.ctl("client", "delete", str(w["id"]), env=env))
    for needle in ("Wrong Person", "wrong.person@example.org"):
        assert not file_has(practice, needle), needle

    sam = practice.add_client("Sam Taylor", email="old.address@example.org")
    practice.book(practice.add_case("Sam", [sam]), T)
    ok(practice.once(DUE_48H, env=env))
    # Sam moves address (a booking tool with SQLite's default, like ours)
    con = sqlite3.connect(str(practice.db))
    con.execute("PRAGMA secure_delete = ON")
    with con:
        con.execute("UPDATE clients SET email = 'new@example.org'")
    con.close()
    assert file_has(practice, "old.address@example.org")  # the outbox's
    ok(practice.once(shift(T, days=401), env=env))
    assert practice.messages("recipient <> ''") == []
    assert not file_has(practice, "old.address@example.org")
