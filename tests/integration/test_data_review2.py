"""Review of the data audit: erasure reaches a calendar cache that writes
the client's address across a folded line (RFC 5545 folds at 75 octets, as
Google and Outlook do in long ATTENDEE lines)."""

import sqlite3

from test_data_audit import file_has, ok


def test_forget_reaches_a_folded_calendar_cache(practice):
    practice.write_conf(email=False)
    practice.init()
    sam = practice.add_client("Sam Taylor", email="sam.taylor@example.org")
    practice.add_case("Sam", [sam])
    body = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Session"
            b"\r\nATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACC"
            b"EPTED;CN=Sam\r\n  Taylor;X-NUM-GUESTS=0:mailto:sam.tay\r\n lor@exam"
            b"ple.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    practice.set("INSERT INTO calendar_feeds (name, etag, body, last_ok)"
                 " VALUES ('diary', '\"e1\"', ?, '2026-12-01T00:00:00Z')",
                 sqlite3.Binary(body))
    ok(practice.ctl("client", "forget", str(sam), "--yes"))
    for needle in ("sam.tay\r\n lor@exam", "Sam\r\n  Taylor"):
        assert not file_has(practice, needle), needle
