"""A raw HTTP/1.1 server whose answers a test writes byte for byte, for the
transport audit: answers is a list of callables or bytes, one per request
(the last one repeats).  A callable gets (conn, request_bytes) and does
what it likes with the socket (trickle, hang, close)."""

import socket
import threading
import time


def http(status, body=b"", headers=()):
    reason = {200: "OK", 201: "Created", 302: "Found", 307: "Temporary Redirect",
              429: "Too Many Requests", 500: "Internal Server Error",
              400: "Bad Request"}.get(status, "X")
    h = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    h += list(headers)
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def trickle(head, every=0.5, limit=600):
    """Headers, then one byte of body every `every` seconds, never ending."""
    def f(c, req):
        c.sendall(head)
        for _ in range(int(limit / every)):
            c.sendall(b" ")
            time.sleep(every)
    return f


def hang(c, req):
    time.sleep(600)


class HostileHttp:
    def __init__(self, answers):
        self.answers = list(answers)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self._lock = threading.Lock()
        self._stop = False
        self.held = []
        threading.Thread(target=self._run, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _run(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.held.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return None
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
        while len(body) < n:
            d = c.recv(65536)
            if not d:
                return None
            body += d
        return head + b"\r\n\r\n" + body

    def _serve(self, c):
        try:
            while True:
                req = self._read_request(c)
                if req is None:
                    return
                with self._lock:
                    i = len(self.requests)
                    self.requests.append(req)
                a = self.answers[min(i, len(self.answers) - 1)]
                if callable(a):
                    a(c, req)
                    c.close()
                    return
                c.sendall(a)
        except OSError:
            pass

    def close(self):
        self._stop = True
        for c in self.held:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()
