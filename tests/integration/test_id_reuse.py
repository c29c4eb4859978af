"""Same-pass id reuse (issue fix13, item 7).  The outbox has no
AUTOINCREMENT: SQLite gives a new row the highest rowid + 1, so when
another program deletes the last row while it is in flight ('sending'),
a message nudged creates later in the same pass (here the email fallback
of a refused SMS) would take its id, and the deleted row's late outcome
(and its upload mark, keyed by id and attempt) would land on the new
message: failed or sent without ever going.  An id claimed in a pass is
never lent to a new row (store_insert_msg): nothing is lost, nothing sent
twice."""

from conftest import mails_to, shift
from fake_sms import FakeTwilio

T = "2026-12-03T14:00:00Z"
DUE = shift(T, hours=-3)
SAM, JO = "sam@example.org", "jo@example.org"
RULES = [{"before": "3h", "channel": "sms", "kinds": ["session"]},
         {"before": "3h", "channel": "email", "kinds": ["call"]}]


def test_fallback_never_takes_the_id_of_a_row_deleted_in_flight(practice,
                                                                 smtp):
    with FakeTwilio(token="tw-token-1") as tw:
        practice.write_conf(sms={"enabled": True, "provider": "twilio",
                                 "url": tw.url, "account": tw.account,
                                 "token": tw.token, "from": "+447700900000",
                                 "region": "GB"}, reminders=RULES)
        practice.init()
        sam = practice.add_client("Sam Taylor", email=SAM,
                                  phone="07700 900123", sms_consent=1)
        jo = practice.add_client("Jo Bloggs", email=JO)
        practice.book(practice.add_case("Sam", [sam]), T)
        practice.book(practice.add_case("Jo", [jo]), T, kind="call")
        assert practice.once(shift(DUE, hours=-1)).returncode == 0
        [sms] = practice.messages("channel = 'sms'")
        [mail] = practice.messages("channel = 'email'")
        assert mail["id"] > sms["id"]               # Jo's is the last row
        # another program deletes Jo's email once it is in flight
        practice.set("CREATE TRIGGER test_gone AFTER UPDATE OF status ON"
                     " messages WHEN NEW.status = 'sending' AND NEW.recipient"
                     f" = '{JO}' BEGIN DELETE FROM messages WHERE id ="
                     " NEW.id; END")
        tw.script([("400", 21211)])                 # Sam's SMS refused
        smtp.script(JO, ["550 5.1.1 no such mailbox"])
        r = practice.once(DUE)
        assert r.returncode == 0, r.stderr
    [fb] = practice.messages("channel = 'email' AND client_id = ?", sam)
    assert fb["status"] == "sent" and fb["attempts"] == 1, fb
    assert fb["id"] != mail["id"], fb
    assert len(mails_to(smtp, SAM)) == 1            # not lost, not twice
    assert practice.messages("id = ?", mail["id"]) == []  # Jo's, deleted
