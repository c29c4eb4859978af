"""How nudged reacts to what an SMTP server does: retries, permanent
failures, refused logins, missing STARTTLS, implicit TLS, connection reuse."""

import socket

import pytest

from conftest import PRACTICE_EMAIL, client_mails, mails_to, shift

T = "2026-12-03T14:00:00Z"
DUE_48H = shift(T, hours=-48)
SAM, ALEX = "sam@example.org", "alex@example.org"
EX_TEMPFAIL = 75


def reminder(practice, client_id):
    [row] = practice.messages("client_id = ? AND purpose = 'reminder'", client_id)
    return row


def test_transient_failure_retried(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    smtp.script(SAM, ["451 4.3.0 Try again later"])
    r = ready.once(DUE_48H)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert len(mails_to(smtp, ALEX)) == 1
    assert mails_to(smtp, SAM) == []
    row = reminder(ready, sam)
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert "451" in row["last_error"]
    assert reminder(ready, alex)["status"] == "sent"

    # not before its retry time
    r = ready.once(shift(DUE_48H, seconds=10))
    assert r.returncode in (0, EX_TEMPFAIL)
    assert mails_to(smtp, SAM) == []
    assert reminder(ready, sam)["attempts"] == 1

    # retry.first is 1m: two minutes later it goes
    r = ready.once(shift(DUE_48H, minutes=2))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, SAM)) == 1
    row = reminder(ready, sam)
    assert row["status"] == "sent"
    assert row["attempts"] == 2
    assert row["last_error"] is None
    assert len(mails_to(smtp, ALEX)) == 1
    # a transient failure that recovered is not worth an alert
    assert mails_to(smtp, PRACTICE_EMAIL) == []


def test_retries_run_out(practice, smtp):
    practice.write_conf(retry={"attempts": 3, "first": "1m", "max": "5m"})
    practice.init()
    sam, alex, case, appt = practice.couple(T)
    smtp.script(SAM, ["451 4.3.0 Try again later"] * 10)
    codes = []
    for minutes in range(0, 40, 4):
        codes.append(practice.once(shift(DUE_48H, minutes=minutes)).returncode)
    row = reminder(practice, sam)
    assert row["status"] == "failed", row
    assert row["attempts"] == 3
    assert "451" in row["last_error"]
    assert codes[-1] == 0
    assert mails_to(smtp, SAM) == []
    assert len(mails_to(smtp, PRACTICE_EMAIL)) == 1


def test_permanent_failure(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    smtp.script(SAM, ["550 5.1.1 No such user"])
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    row = reminder(ready, sam)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert "550" in row["last_error"]
    assert row["sent_at"] is None
    assert len(mails_to(smtp, ALEX)) == 1
    assert reminder(ready, alex)["status"] == "sent"
    # no second try
    assert ready.once(shift(DUE_48H, minutes=30)).returncode == 0
    assert reminder(ready, sam)["attempts"] == 1
    assert mails_to(smtp, SAM) == []
    # the practitioner hears of it
    alerts = mails_to(smtp, PRACTICE_EMAIL)
    assert len(alerts) == 1
    [arow] = ready.messages("purpose = 'alert'")
    assert arow["status"] == "sent"


def test_rejected_after_data(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    smtp.script(SAM, ["data:554 5.6.0 Message rejected"])
    r = ready.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    row = reminder(ready, sam)
    assert row["status"] == "failed"
    assert "554" in row["last_error"]
    assert len(mails_to(smtp, ALEX)) == 1


def test_connection_dropped_after_data(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    smtp.script(SAM, ["drop-after-data"])
    r = ready.once(DUE_48H)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert reminder(ready, sam)["status"] != "sent"
    assert len(mails_to(smtp, ALEX)) == 1


def test_wrong_password(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    ready.write_password("not-the-password")
    r = ready.once(DUE_48H)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert smtp.messages == []
    assert smtp.auth_failures >= 1
    for who in (sam, alex):
        assert reminder(ready, who)["status"] == "pending"
    assert "not-the-password" not in r.stderr
    # fixed: the next pass delivers both
    ready.write_password("s3cret")
    r = ready.once(shift(DUE_48H, minutes=10))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, SAM)) == 1 and len(mails_to(smtp, ALEX)) == 1


def test_no_starttls_offered(practice, smtp_factory):
    plain = smtp_factory(tls="none")
    practice.use_smtp(plain)
    practice.write_conf()            # tls = "required"
    practice.init()
    sam, alex, case, appt = practice.couple(T)
    r = practice.once(DUE_48H)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert plain.messages == []
    assert plain.auth_failures == 0
    for who in (sam, alex):
        assert reminder(practice, who)["status"] == "pending"


def test_untrusted_certificate(practice, smtp):
    practice.write_conf(email={"url": smtp.url,
                               "ca_file": "/etc/ssl/certs/ca-certificates.crt"})
    practice.init()
    sam, alex, case, appt = practice.couple(T)
    r = practice.once(DUE_48H)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert smtp.messages == []
    assert reminder(practice, sam)["status"] == "pending"


def test_plain_relay_when_configured(practice, smtp_factory):
    relay = smtp_factory(tls="none", auth=None)
    practice.use_smtp(relay)
    practice.write_conf(email={"tls": "none", "username": None, "password_file": None})
    practice.init()
    practice.couple(T)
    r = practice.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert len(client_mails(relay)) == 2


def test_implicit_tls(practice, smtp_factory):
    srv = smtp_factory(tls="implicit")
    assert srv.url.startswith("smtps://")
    practice.use_smtp(srv)
    practice.write_conf()
    practice.init()
    practice.couple(T)
    r = practice.once(DUE_48H)
    assert r.returncode == 0, r.stderr
    assert len(client_mails(srv)) == 2


def test_server_down(practice, smtp):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                        # nothing listens there now
    practice.write_conf(email={"url": f"smtp://127.0.0.1:{port}",
                               "ca_file": smtp.ca_file})
    practice.init()
    sam, alex, case, appt = practice.couple(T)
    r = practice.once(DUE_48H)
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    for who in (sam, alex):
        assert reminder(practice, who)["status"] == "pending"


def test_one_connection_per_batch(ready, smtp):
    ready.couple(T)
    jordan = ready.add_client("Jordan Lee", email="jordan@example.org")
    ready.book(ready.add_case("Jordan", [jordan]), shift(T, hours=2))
    r = ready.once(shift(DUE_48H, hours=2))
    assert r.returncode == 0, r.stderr
    assert len(client_mails(smtp)) == 3
    assert smtp.connections == 1


@pytest.mark.parametrize("first", ["451 4.3.0 Try again later", "550 5.1.1 No such user"])
def test_failure_does_not_break_the_batch(ready, smtp, first):
    """A refused recipient in the middle of a session does not lose the others."""
    people = []
    for i in range(4):
        c = ready.add_client(f"Client {i}", email=f"c{i}@example.org")
        ready.book(ready.add_case(f"Case {i}", [c]), T)
        people.append(c)
    smtp.script("c1@example.org", [first])
    ready.once(DUE_48H)
    for i in (0, 2, 3):
        assert len(mails_to(smtp, f"c{i}@example.org")) == 1, i
