"""Fake SMS provider APIs on loopback, for nudged's end-to-end tests.

Each fake checks a request the way the real API does (method, path,
credentials, content type, parameters) and answers in the real API's
shape, so a test that passes against a fake would pass against the
provider.  What the fake accepted is in .messages; every request, good or
bad, in .requests; whatever the real API would have garbled or refused
silently in .errors.

Answers are scripted with script([...]): one entry per request, in order;
when the script is empty a request gets the normal success answer.  A
request the real API would refuse gets that refusal whatever the script
says (the entry is still used up, so the order stays predictable).

Plain HTTP on 127.0.0.1, port chosen by the kernel: nudged accepts http://
for loopback only.  HTTP/1.1 with keep-alive, so connection reuse is real.

    with FakeTwilio() as tw:
        tw.script(["201", ("400", 21211), "drop"])
        ... point sms.url at tw.url, sms.account at tw.account ...
        assert tw.messages[0]["To"] == "+447700900123"
"""

import base64
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DIGITS = re.compile(r"^[1-9]\d{6,14}$")

# 3GPP TS 23.038: the default alphabet, and the extension table (2 septets).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà") - {"\x1b"}
GSM_EXT = set("\f^{}\\[~]|€")


def is_gsm7(text):
    return all(c in GSM_BASIC or c in GSM_EXT for c in text)


def segments(text):
    """Parts the text goes in: 160/153 septets or 70/67 UTF-16 units,
    never splitting an escape pair or a surrogate pair."""
    if text == "":
        return 0
    if is_gsm7(text):
        units = [2 if c in GSM_EXT else 1 for c in text]
        single, per = 160, 153
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, per = 70, 67
    if sum(units) <= single:
        return 1
    parts, fill = 1, 0
    for u in units:
        if fill + u > per:
            parts += 1
            fill = 0
        fill += u
    return parts


class _Fake:
    """The server, the script, the records.  Subclasses define answer()."""

    def __init__(self):
        self.requests = []
        self.messages = []
        self.errors = []
        self.max_concurrency = 0
        self.connections = 0
        self._active = 0
        self._script = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    # -- life cycle
    def start(self):
        fake = self

        class Handler(_Handler):
            pass
        Handler.fake = fake
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # -- script
    def script(self, answers):
        with self._lock:
            self._script.extend(answers)

    def _next(self):
        with self._lock:
            return self._script.pop(0) if self._script else None

    def _enter(self):
        with self._lock:
            self._active += 1
            self.max_concurrency = max(self.max_concurrency, self._active)

    def _leave(self):
        with self._lock:
            self._active -= 1

    def _record(self, rec):
        with self._lock:
            self.requests.append(rec)

    def answer(self, req, scripted):
        """(status, headers dict, body bytes) or "drop"."""
        raise NotImplementedError


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with self.fake._lock:
            self.fake.connections += 1

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        req = {
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "raw": raw,
        }
        fake = self.fake
        fake._enter()
        left = False
        try:
            scripted = fake._next()
            if isinstance(scripted, tuple) and scripted[0] == "slow":
                time.sleep(scripted[1])
                scripted = None
            result = fake.answer(req, scripted)
            fake._record(req)
            if result == "drop":
                # The whole request was read; the answer never comes.
                self.close_connection = True
                return
            status, headers, body = result
            # Leave before answering: once the client has its answer it may
            # send the next request, which must not overlap this one's count.
            fake._leave()
            left = True
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        finally:
            if not left:
                fake._leave()

    do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = _handle


def _json(status, obj, headers=None):
    h = {"Content-Type": "application/json; charset=utf-8"}
    h.update(headers or {})
    return status, h, json.dumps(obj).encode()


def _form(req, errors):
    """The form as a dict of str, or None (recorded in errors)."""
    ctype = req["headers"].get("Content-Type", "")
    if not ctype.lower().startswith("application/x-www-form-urlencoded"):
        errors.append("content type %r" % ctype)
        return None
    try:
        text = req["raw"].decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True,
                                       strict_parsing=bool(text),
                                       errors="strict")
    except (UnicodeDecodeError, ValueError) as e:
        errors.append("form: %s" % e)
        return None
    form = {}
    for k, v in pairs:
        if k in form:
            errors.append("form: %s twice" % k)
            return None
        form[k] = v
    return form


class FakeTwilio(_Fake):
    """POST /2010-04-01/Accounts/{account}/Messages.json.

    Script entries: "201", (status_str, code) e.g. ("400", 21211),
    ("400", 21610), ("403", 20005), "401", ("429", retry_after) (seconds
    or an HTTP-date string), "500", ("slow", seconds) (sleep, then the
    normal answer), "drop", "huge" (201 with a 100 KiB body).
    """

    MESSAGES = {
        20003: "Authenticate",
        20005: "Account not active",
        20429: "Too Many Requests",
        21211: "The 'To' number is not a valid phone number.",
        21408: "Permission to send an SMS has not been enabled for the "
               "region indicated by the 'To' number",
        21602: "Message body is required.",
        21603: "The 'From' phone number is required.",
        21610: "Attempt to send to unsubscribed recipient",
        21614: "'To' number is not a valid mobile number",
        21617: "The concatenated message body exceeds the 1600 character limit.",
        30002: "Account suspended",
    }

    def __init__(self, account=None, token="tok123"):
        super().__init__()
        self.account = account or "AC" + secrets.token_hex(16)
        self.token = token

    def _error(self, status, code, headers=None):
        return _json(status, {
            "code": code,
            "message": self.MESSAGES.get(code, "Error %d" % code),
            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
            "status": status,
        }, headers)

    def answer(self, req, scripted):
        path = "/2010-04-01/Accounts/%s/Messages.json" % self.account
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (self.account, self.token)).encode()).decode()
        req["auth_ok"] = req["headers"].get("Authorization") == want
        req["form"] = None
        if req["method"] != "POST":
            return self._error(405, 20004)
        if req["path"] != path:
            return self._error(404, 20404)
        if not req["auth_ok"]:
            return self._error(401, 20003,
                               {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        form = req["form"] = _form(req, self.errors)
        if form is None:
            return self._error(400, 20001)
        if not E164.match(form.get("To", "")):
            return self._error(400, 21211)
        if not form.get("From"):
            return self._error(400, 21603)
        body = form.get("Body", "")
        if body == "":
            return self._error(400, 21602)
        if len(body) > 1600:
            return self._error(400, 21617)
        if scripted == "drop":
            return "drop"
        if scripted == "401":
            return self._error(401, 20003)
        if scripted == "500":
            return self._error(500, 20500)
        if isinstance(scripted, tuple) and scripted[0] == "429":
            return self._error(429, 20429, {"Retry-After": str(scripted[1])})
        if isinstance(scripted, tuple):
            return self._error(int(scripted[0]), int(scripted[1]))
        sid = "SM" + secrets.token_hex(16)
        msg = {"To": form["To"], "From": form["From"], "Body": body, "sid": sid}
        with self._lock:
            self.messages.append(msg)
        answer = {
            "sid": sid,
            "account_sid": self.account,
            "to": form["To"],
            "from": form["From"],
            "body": body,
            "status": "queued",
            "num_segments": str(segments(body)),
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "error_code": None,
            "error_message": None,
            "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                          time.gmtime()),
            "uri": "/2010-04-01/Accounts/%s/Messages/%s.json" % (self.account, sid),
        }
        if scripted == "huge":
            answer["padding"] = "x" * (100 * 1024)
        return _json(201, answer)


class FakeVonage(_Fake):
    """POST /sms/json (the legacy SMS API): always HTTP 200, a status per part.

    Script entries: "ok", "throttled" (1), "bad-credentials" (4),
    "partial" (part 1 "0", part 2 "5", at least two parts), ("status", N),
    "500", "401", "drop", ("slow", seconds).
    """

    TEXTS = {
        1: "Throughput Rate Exceeded - please wait [ 1000 ] and retry",
        2: "Missing to param",
        3: "Invalid Message type",
        4: "Bad Credentials",
        5: "Internal Error",
        8: "Partner Account Barred",
        9: "Partner Quota Violation",
        15: "Illegal Sender Address - rejected",
        29: "Non-Whitelisted Destination",
    }

    def __init__(self, api_key="a1b2c3d4", api_secret="Secret123"):
        super().__init__()
        self.account = api_key
        self.token = api_secret
        self._ids = 0

    def _id(self):
        with self._lock:
            self._ids += 1
            return "%016X" % (0x0A000000_00000000 + self._ids)

    def _fail(self, to, status, text=None):
        return _json(200, {"message-count": "1", "messages": [{
            "to": to, "status": str(status),
            "error-text": text or self.TEXTS.get(status, "Error %d" % status)}]})

    def answer(self, req, scripted):
        req["form"] = None
        if req["method"] != "POST":
            return 405, {}, b""
        if urllib.parse.urlsplit(req["path"]).path != "/sms/json":
            return 404, {}, b""
        if scripted == "500":
            return 500, {}, b"<html>Internal error</html>"
        if scripted == "401":
            return 401, {}, b""
        form = req["form"] = _form(req, self.errors)
        if form is None:
            return self._fail("", 2, "Missing api_key")
        to = form.get("to", "")
        for k in ("api_key", "api_secret", "from", "to", "text"):
            if not form.get(k):
                return self._fail(to, 2, "Missing %s param" % k)
        if form["api_key"] != self.account or form["api_secret"] != self.token:
            return self._fail(to, 4)
        if not DIGITS.match(to):
            self.errors.append("to %r is not digits without '+'" % to)
            return self._fail(to, 3, "Invalid to param")
        text = form["text"]
        unicode = form.get("type") == "unicode"
        if not unicode and not is_gsm7(text):
            # The real API would send it garbled; a test must see it.
            self.errors.append("non-GSM-7 text without type=unicode")
            return self._fail(to, 3)
        if scripted == "drop":
            return "drop"
        if scripted == "throttled":
            return self._fail(to, 1)
        if scripted == "bad-credentials":
            return self._fail(to, 4)
        if isinstance(scripted, tuple) and scripted[0] == "status":
            return self._fail(to, int(scripted[1]))
        n = segments(text)
        parts = []
        for i in range(max(n, 2) if scripted == "partial" else n):
            if scripted == "partial" and i > 0:
                parts.append({"to": to, "status": "5",
                              "error-text": self.TEXTS[5]})
                continue
            parts.append({
                "to": to, "message-id": self._id(), "status": "0",
                "remaining-balance": "3.14159265", "message-price": "0.03330000",
                "network": "23410"})
        with self._lock:
            self.messages.append({"to": to, "from": form["from"], "text": text,
                                  "type": form.get("type", "text"),
                                  "ids": [p["message-id"] for p in parts
                                          if "message-id" in p]})
        return _json(200, {"message-count": str(len(parts)), "messages": parts})


class FakeGeneric(_Fake):
    """Any method and path; records everything, parses the body by its type.

    expect_headers: {name: value} every request must carry, else 401.
    Script entries: (status_str, dict_or_str) e.g. ("200", {"id": "abc"}),
    "500", "401", "403", "400", ("429", retry_after), "drop",
    ("slow", seconds).  Default answer: 200 {"id": "gen-N"}.
    """

    def __init__(self, expect_headers=None):
        super().__init__()
        self.expect_headers = expect_headers or {}
        self._n = 0

    def answer(self, req, scripted):
        ctype = req["headers"].get("Content-Type", "")
        req["parsed"] = None
        if ctype.lower().startswith("application/json"):
            try:
                req["parsed"] = json.loads(req["raw"].decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self.errors.append("json: %s" % e)
                return _json(400, {"error": "bad json"})
        elif ctype.lower().startswith("application/x-www-form-urlencoded"):
            req["parsed"] = _form(req, self.errors)
            if req["parsed"] is None:
                return _json(400, {"error": "bad form"})
        for k, v in self.expect_headers.items():
            if req["headers"].get(k) != v:
                return _json(401, {"error": "unauthorised"})
        if scripted == "drop":
            return "drop"
        if isinstance(scripted, str) and scripted.isdigit():
            return _json(int(scripted), {"error": "scripted %s" % scripted})
        if isinstance(scripted, tuple) and scripted[0] == "429":
            return _json(429, {"error": "slow down"},
                         {"Retry-After": str(scripted[1])})
        if isinstance(scripted, tuple):
            body = scripted[1]
            if isinstance(body, (dict, list)):
                return _json(int(scripted[0]), body)
            return int(scripted[0]), {"Content-Type": "text/plain"}, str(body).encode()
        with self._lock:
            self._n += 1
            ref = "gen-%d" % self._n
            self.messages.append({"parsed": req["parsed"], "id": ref})
        return _json(200, {"id": ref, "status": "accepted"})
