"""Tests of the SMTP test server itself, with Python's smtplib as the client.

Every other integration test trusts smtp_server.py to behave like a real,
strict server; these check that it does: TLS required and verifiable with
its CA, AUTH enforced, scripted replies consumed one per attempt, and a
drop after DATA that gives the client no verdict.
"""
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from smtp_server import SmtpServer  # noqa: E402

MSG = (b"From: a@example.org\r\nTo: b@example.org\r\n"
       b"Subject: =?UTF-8?B?UsOpbWluZGVy?=\r\n\r\nhello\r\n.dot line\r\n")


def client(srv, login=True, password="s3cret"):
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    if srv.tls == "implicit":
        c = smtplib.SMTP_SSL("127.0.0.1", srv.port, context=ctx, timeout=10)
    else:
        c = smtplib.SMTP("127.0.0.1", srv.port, timeout=10)
        if srv.tls == "starttls":
            c.starttls(context=ctx)
    if login and srv.auth is not None:
        c.login("nudged", password)
    return c


def reply(f):
    """One whole SMTP reply (all its lines) from a binary file object."""
    out = b""
    while True:
        line = f.readline()
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            return out


@pytest.fixture
def srv(tmp_path):
    with SmtpServer(tmp_path) as s:
        yield s


def test_starttls_login_and_delivery(srv):
    assert srv.url == f"smtp://127.0.0.1:{srv.port}"
    with client(srv) as c:
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        c.sendmail("a@example.org", ["c@example.org"], MSG)
    got = srv.wait_for(2)
    assert got[0]["mail_from"] == "a@example.org"
    assert got[0]["rcpt_tos"] == ["b@example.org"]
    assert got[0]["data"].endswith(b"hello\r\n.dot line\r\n")  # dot-unstuffed
    assert got[0]["message"]["Subject"] == "R\u00e9minder"
    assert got[1]["rcpt_tos"] == ["c@example.org"]
    assert srv.connections == 1


def test_certificate_is_for_loopback_and_signed_by_ca(srv):
    # The default context checks the chain and the host name (SAN).
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    for name in ("localhost", "127.0.0.1"):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            f = s.makefile("rb")
            assert reply(f).startswith(b"220")
            s.sendall(b"EHLO t\r\n")
            assert b"STARTTLS" in reply(f)
            s.sendall(b"STARTTLS\r\n")
            assert reply(f).startswith(b"220")
            with ctx.wrap_socket(s, server_hostname=name) as t:
                assert t.version() in ("TLSv1.2", "TLSv1.3")
    # Without the CA the same handshake fails.
    with pytest.raises(ssl.SSLCertVerificationError):
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=5) as c:
            c.starttls(context=ssl.create_default_context())


def test_plain_text_refused_before_starttls(srv):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=5) as c:
        c.ehlo()
        assert "auth" not in c.esmtp_features
        code, _ = c.mail("a@example.org")
        assert code == 530
    assert srv.messages == []


def test_wrong_password_is_535(srv):
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        client(srv, password="wrong")
    assert e.value.smtp_code == 535
    assert srv.auth_failures >= 1


def test_mail_without_auth_is_refused(srv):
    with client(srv, login=False) as c:
        c.ehlo()
        code, _ = c.mail("a@example.org")
        assert code == 530


def test_script_rcpt_replies_consumed_in_order(srv):
    srv.script("x@example.org", ["451 4.3.0 Try again later", "550 5.1.1 No such user"])
    with client(srv) as c:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            c.sendmail("a@example.org", ["x@example.org"], MSG)
        assert e.value.recipients["x@example.org"][0] == 451
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            c.sendmail("a@example.org", ["x@example.org"], MSG)
        assert e.value.recipients["x@example.org"][0] == 550
        c.sendmail("a@example.org", ["x@example.org"], MSG)  # script used up
        c.sendmail("a@example.org", ["other@example.org"], MSG)  # never scripted
    assert len(srv.wait_for(2)) == 2


def test_script_data_reply(srv):
    srv.script("x@example.org", ["data:554 5.6.0 Message rejected"])
    with client(srv) as c:
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("a@example.org", ["x@example.org"], MSG)
        assert e.value.smtp_code == 554
    assert srv.messages == []


def test_drop_after_data(srv):
    srv.script("x@example.org", ["drop-after-data"])
    with client(srv) as c:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            c.sendmail("a@example.org", ["x@example.org"], MSG)
    got = srv.wait_for(1)
    assert got[0]["dropped"] is True
    with client(srv) as c:  # the server goes on serving
        c.sendmail("a@example.org", ["x@example.org"], MSG)
    assert srv.wait_for(2)[1]["dropped"] is False


def test_bad_script_entry_rejected(srv):
    with pytest.raises(ValueError):
        srv.script("x@example.org", ["nonsense"])


def test_wait_for_times_out(srv):
    with pytest.raises(TimeoutError):
        srv.wait_for(1, timeout=0.2)


def test_implicit_tls(tmp_path):
    with SmtpServer(tmp_path, tls="implicit") as s:
        assert s.url.startswith("smtps://127.0.0.1:")
        with client(s) as c:
            c.sendmail("a@example.org", ["b@example.org"], MSG)
        assert len(s.wait_for(1)) == 1


def test_plain_relay_without_auth(tmp_path):
    with SmtpServer(tmp_path, tls="none", auth=None) as s:
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            c.ehlo()
            assert "starttls" not in c.esmtp_features
            c.sendmail("a@example.org", ["b@example.org"], MSG)
        assert len(s.wait_for(1)) == 1


def test_cli(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    maildir = tmp_path / "mail"
    p = subprocess.Popen([sys.executable, os.path.join(here, "smtp_server.py"),
                          "--workdir", str(tmp_path / "w"), "--port", "0",
                          "--maildir", str(maildir)],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        assert line[0] == "READY"
        port = int(line[1])
        ctx = ssl.create_default_context(cafile=str(tmp_path / "w" / "ca.crt"))
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.starttls(context=ctx)
            c.login("nudged", "s3cret")
            c.sendmail("a@example.org", ["b@example.org"], MSG)
        assert (maildir / "001.eml").read_bytes().endswith(b"hello\r\n.dot line\r\n")
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
