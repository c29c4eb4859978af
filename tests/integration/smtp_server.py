#!/usr/bin/python3
"""A real SMTP server on loopback for nudged's integration tests.

It speaks SMTP through aiosmtpd, with real TLS (a private CA made with the
openssl CLI at start), real AUTH (PLAIN and LOGIN), and a per-recipient
script of replies so a test can make one delivery attempt fail the way a
real server would: a 4xx or 5xx on RCPT, a 5xx after the final dot, or the
connection dropped after the whole message went up (the "unknown outcome"
case, where the server has the message but the client never heard so).

    with SmtpServer(tmp_path) as srv:          # STARTTLS required, AUTH nudged/s3cret
        ... point nudged at srv.url with email.ca_file = srv.ca_file ...
        srv.wait_for(1)
        msg = srv.messages[0]["message"]       # email.message.EmailMessage

tls:  "starttls"  STARTTLS offered and required before AUTH/MAIL (530 otherwise)
      "implicit"  TLS from the first byte (smtps://)
      "none"      plain text (a local relay); AUTH, if any, allowed in clear
auth: (user, password) required before MAIL (535 on a wrong password), or None

ehlo_names, quits: every EHLO name clients gave, and how many said QUIT.

script(rcpt, replies): one reply per delivery attempt to rcpt, consumed in
order; when the list runs out, normal acceptance.  A reply like "451 4.3.0
Try again later" or "550 5.1.1 No such user" answers RCPT TO.  "data:554
5.6.0 rejected" answers the final dot instead.  "drop-after-data" reads the
whole message, records it (with "dropped": True) and closes the connection
without a reply.  Only messages the server accepted (or read completely
before a drop) appear in .messages.

CLI (runs until SIGTERM; prints "READY PORT" once listening; the CA for
email.ca_file is WORKDIR/ca.crt):
    smtp_server.py --workdir D --port N [--tls starttls|implicit|none]
                   [--no-auth] [--user U --password P] [--maildir D]
                   [--script RCPT=REPLY[|REPLY...]]...
"""

import argparse
import asyncio
import atexit
import email
import email.policy
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

DROP = "drop-after-data"

# aiosmtpd logs a warning for its own deprecated attribute on every AUTH, and
# a traceback for every failed TLS handshake (which tests cause on purpose).
if not os.environ.get("SMTP_SERVER_DEBUG"):
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
TLS_MODES = ("starttls", "implicit", "none")


_CERTS = None       # this process's CA and leaf, made once (see make_certs)


def make_certs(workdir):
    """A throwaway CA and a leaf for 127.0.0.1/localhost (libcurl checks the
    SAN, not the CN), copied into workdir.  Returns (ca_file, cert_file,
    key_file).  They are made once per process (three openssl runs cost
    about 50 ms of CPU, and the suite starts hundreds of servers); no test
    needs two servers with different CAs (an untrusted certificate is one
    checked against the system's CAs)."""
    global _CERTS
    if _CERTS is None:
        d = tempfile.mkdtemp(prefix="nudged-certs-")
        atexit.register(shutil.rmtree, d, True)
        _CERTS = _make_certs(d)
    os.makedirs(workdir, exist_ok=True)
    return tuple(shutil.copy(f, os.path.join(workdir, os.path.basename(f)))
                 for f in _CERTS)


def _make_certs(workdir):
    p = lambda n: os.path.join(workdir, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args):
        subprocess.run(["openssl", *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    run("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.crt"),
        "-days", "3", "-subj", "/CN=nudged test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-new", *ec, "-keyout", p("server.key"), "-out", p("server.csr"),
        "-subj", "/CN=localhost")
    with open(p("server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"),
        "-CAkey", p("ca.key"), "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
        "-days", "3", "-extfile", p("server.ext"), "-out", p("server.crt"))
    return p("ca.crt"), p("server.crt"), p("server.key")


class _Handler:
    """aiosmtpd hooks; all state lives on the SmtpServer (thread-safe)."""

    def __init__(self, owner):
        self.owner = owner

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.owner._cond:
            self.owner.ehlo_names.append(hostname)
        return responses

    async def handle_QUIT(self, server, session, envelope):
        # Counted where the line arrives (_CountingSMTP): a QUIT followed at
        # once by the client's close may never reach this handler.
        return "221 Bye"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # AUTH enforced here rather than with aiosmtpd's auth_required, which
        # warns when TLS is implicit (it only counts STARTTLS as TLS).
        if self.owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.owner._next_reply(address)
        if reply is None:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        if reply == DROP or reply.startswith("data:"):
            envelope.rcpt_tos.append(address)
            actions = getattr(envelope, "nudged_data_actions", [])
            actions.append(reply)
            envelope.nudged_data_actions = actions
            return "250 OK"
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        actions = getattr(envelope, "nudged_data_actions", [])
        if DROP in actions:
            self.owner._record(envelope, dropped=True)
            # Close without a reply; connection_lost() then cancels this
            # coroutine, so no status is ever written.
            server.transport.abort()
            await asyncio.sleep(3600)
            return None
        for a in actions:
            reply = a[len("data:"):].strip()
            if not reply.startswith("2"):
                return reply
        self.owner._record(envelope, dropped=False)
        return "250 2.0.0 OK queued"


class _CountingSMTP(SMTP):
    """aiosmtpd's server, counting QUIT commands as their lines arrive
    (after TLS): aiosmtpd cancels its handler when the connection drops,
    so a QUIT sent just before the client closes may be read but never
    handled.  Outside DATA a line is a command; nudged's messages never hold
    a bare QUIT line, so this test server does not track the phase."""

    def __init__(self, owner, *args, **kw):
        super().__init__(*args, **kw)
        self._owner = owner
        self._partial = b""

    def data_received(self, data):
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        n = sum(1 for line in lines if line.strip().upper() == b"QUIT")
        if n:
            with self._owner._cond:
                self._owner.quits += n
        super().data_received(data)


class SmtpServer:
    def __init__(self, workdir, *, tls="starttls", auth=("nudged", "s3cret"),
                 host="127.0.0.1", port=0, maildir=None):
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}")
        self.workdir = str(workdir)
        self.tls = tls
        self.auth = auth
        self.host = host
        self.port = port
        self.maildir = maildir
        self.messages = []
        self.connections = 0
        self.auth_failures = 0
        self.ehlo_names = []        # every EHLO name, in order
        self.quits = 0              # QUIT commands received
        self._scripts = {}
        self._cond = threading.Condition()
        self._loop = None
        self._thread = None
        self._server = None
        self.ca_file, self._cert, self._key = make_certs(self.workdir)
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ssl.load_cert_chain(self._cert, self._key)

    # ---- the fixed API ------------------------------------------------

    @property
    def url(self):
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    def script(self, rcpt, replies):
        for r in replies:
            if not (r == DROP or r.startswith("data:") or r[:3].isdigit()):
                raise ValueError(f"bad scripted reply {r!r}")
        with self._cond:
            self._scripts.setdefault(rcpt.lower(), []).extend(replies)

    def wait_for(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"expected {n} messages, got {len(self.messages)}")
                self._cond.wait(left)
            return list(self.messages)

    def start(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure = []

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(
                    self._loop.create_server(
                        self._factory, sock=sock,
                        ssl=self._ssl if self.tls == "implicit" else None))
            except Exception as e:  # noqa: BLE001 - reported to start()
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            for t in asyncio.all_tasks(self._loop):
                t.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

        self._thread = threading.Thread(target=run, name="smtp-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self):
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- internals ----------------------------------------------------

    def _factory(self):
        with self._cond:
            self.connections += 1
        kw = dict(hostname="localhost", enable_SMTPUTF8=True,
                  decode_data=False, ident="nudged-test-smtpd")
        kw.update(auth_require_tls=(self.tls == "starttls"))
        if self.auth is not None:
            kw.update(authenticator=self._authenticate)
        if self.tls == "starttls":
            kw.update(tls_context=self._ssl, require_starttls=True)
        return _CountingSMTP(self, _Handler(self), **kw)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and self.auth is not None
              and auth_data.login == self.auth[0].encode()
              and auth_data.password == self.auth[1].encode())
        if not ok:
            with self._cond:
                self.auth_failures += 1
        return AuthResult(success=ok, handled=False)

    def _next_reply(self, rcpt):
        with self._cond:
            q = self._scripts.get(rcpt.lower())
            return q.pop(0) if q else None

    def _record(self, envelope, dropped):
        data = bytes(envelope.original_content or b"")
        rec = dict(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                   data=data, dropped=dropped,
                   message=email.message_from_bytes(data, policy=email.policy.default))
        with self._cond:
            self.messages.append(rec)
            n = len(self.messages)
            self._cond.notify_all()
        if self.maildir:
            os.makedirs(self.maildir, exist_ok=True)
            path = os.path.join(self.maildir, f"{n:03d}.eml")
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.rename(path + ".tmp", path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="SMTP test server for nudged")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls", choices=TLS_MODES, default="starttls")
    ap.add_argument("--no-auth", action="store_true")
    ap.add_argument("--user", default="nudged")
    ap.add_argument("--password", default="s3cret")
    ap.add_argument("--maildir")
    ap.add_argument("--script", action="append", default=[],
                    help="RCPT=REPLY[|REPLY...], may repeat")
    a = ap.parse_args(argv)
    srv = SmtpServer(a.workdir, tls=a.tls, host=a.host, port=a.port,
                     auth=None if a.no_auth else (a.user, a.password),
                     maildir=a.maildir)
    for s in a.script:
        rcpt, _, replies = s.partition("=")
        srv.script(rcpt, replies.split("|"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    srv.start()
    print(f"READY {srv.port}", flush=True)
    while not stop.wait(0.5):
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
