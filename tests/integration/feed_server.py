"""A calendar feed server for the tests: HTTPS on loopback with the same
kind of throwaway CA as smtp_server.py (nudged trusts it through the
feed's ca_file), answering like a calendar host does:

    srv = FeedServer(workdir); srv.start()
    srv.body = "BEGIN:VCALENDAR..."      # what GET /feed.ics returns (200)
    srv.mode = "ok" | "500" | "slow" | "truncated" | "redirect" | "big"
    srv.raw = b"..."                     # bytes served instead of body
    srv.url, srv.ca_file, srv.requests (list of dicts: path, headers, status)

An ETag (a hash of the body) is sent with every 200; a request whose
If-None-Match equals it gets 304 with no body, as Google's servers do.
"slow" waits longer than the client's timeout before answering;
"truncated" promises a Content-Length and closes half way.
"redirect" answers 302 to /moved.ics, which serves the body; "big"
streams srv.big_bytes of calendar text (chunked, no Content-Length).
"""

import hashlib
import http.server
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_server import make_certs  # noqa: E402


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        srv = self.server.owner
        with srv.lock:
            body = srv.raw if srv.raw is not None else srv.body.encode()
            mode = srv.mode
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        status = 200
        if mode == "redirect" and self.path == "/feed.ics":
            status = 302
        elif self.path not in ("/feed.ics", "/moved.ics"):
            status = 404
        elif mode == "500":
            status = 500
        elif mode != "big" and self.headers.get("If-None-Match") == etag:
            status = 304
        with srv.lock:
            srv.requests.append({"path": self.path, "status": status,
                                 "headers": dict(self.headers)})
        if mode == "slow":
            time.sleep(srv.slow_seconds)
        if mode == "big" and status == 200:
            self._big(srv.big_bytes)
            return
        if status != 200:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            if status == 302:
                self.send_header("Location", "/moved.ics")
            if status == 304:
                self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncated":
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _big(self, size):
        """A calendar of about size bytes, chunked: no length to refuse early."""
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        ev = (b"BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20200101T100000Z\r\n"
              b"SUMMARY:padding\r\nEND:VEVENT\r\n") * 1000
        chunks = [b"BEGIN:VCALENDAR\r\n"] + [ev] * (size // len(ev)) + \
            [b"END:VCALENDAR\r\n"]
        try:
            for c in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass            # the client gave up, as it should
        self.close_connection = True


class FeedServer:
    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.ca_file, cert, key = make_certs(self.workdir)
        self.lock = threading.Lock()
        self.body = ""
        self.raw = None
        self.big_bytes = 50 * 1024 * 1024
        self.mode = "ok"
        self.slow_seconds = 4
        self.requests = []
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = None

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}/feed.ics"

    def statuses(self):
        with self.lock:
            return [r["status"] for r in self.requests]

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
