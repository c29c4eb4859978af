"""SMTP manners (issue 9): the EHLO name, and QUIT after a refused login,
as the server sees them."""

import time

from conftest import shift

T = "2026-12-03T14:00:00Z"
DUE_48H = shift(T, hours=-48)


def test_ehlo_is_the_from_domain_by_default(ready, smtp):
    ready.couple(T)
    assert ready.once(DUE_48H).returncode == 0
    assert smtp.ehlo_names, "no EHLO seen"
    # twice per connection: before and after STARTTLS
    assert set(smtp.ehlo_names) == {"example.org"}, smtp.ehlo_names


def test_ehlo_from_email_helo(practice, smtp):
    practice.write_conf(email={"helo": "mail.hughes-practice.example"})
    practice.init()
    practice.couple(T)
    assert practice.once(DUE_48H).returncode == 0
    assert set(smtp.ehlo_names) == {"mail.hughes-practice.example"}


def test_bad_helo_is_a_config_error(practice):
    practice.write_conf(email={"helo": "bad name\\nx"})
    r = practice.run("--check-config")
    assert r.returncode == 78
    assert f":{practice.line_of('helo = ')}:" in r.stderr and "host name" in r.stderr


def test_quit_after_refused_login(ready, smtp):
    ready.couple(T)
    ready.write_password("not-the-password")
    r = ready.once(DUE_48H)
    assert r.returncode == 75, r.stderr
    assert smtp.auth_failures >= 1
    assert smtp.connections >= 1
    # The server may read the QUIT a moment after nudged has exited.
    deadline = time.monotonic() + 5
    while smtp.quits < smtp.connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert smtp.quits == smtp.connections, (smtp.quits, smtp.connections)
