"""A minimal SMTP sink on loopback for the benchmarks.

Plain text, no AUTH, accepts everything and keeps only counts (messages,
bytes, connections), so what a benchmark times is nudged, not a mail
server written in Python.  tests/integration/smtp_server.py is the real,
checking server; this one is deliberately dumb and fast.
"""

import asyncio
import threading


class _Session(asyncio.Protocol):
    def __init__(self, owner):
        self.owner = owner
        self.buf = b""
        self.in_data = False
        self.size = 0

    def connection_made(self, transport):
        self.t = transport
        with self.owner.lock:
            self.owner.connections += 1
        self.t.write(b"220 bench-sink ESMTP\r\n")

    def data_received(self, data):
        self.buf += data
        while True:
            if self.in_data:
                # The message ends at CRLF.CRLF; the bytes before it count.
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    # Keep a tail so a terminator split across reads is found.
                    keep = max(0, len(self.buf) - 4)
                    self.size += keep
                    self.buf = self.buf[keep:]
                    return
                self.size += end + 2
                self.buf = self.buf[end + 5:]
                self.in_data = False
                with self.owner.lock:
                    self.owner.messages += 1
                    self.owner.bytes += self.size
                self.t.write(b"250 2.0.0 OK queued\r\n")
                continue
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                return
            line, self.buf = self.buf[:nl], self.buf[nl + 2:]
            self.command(line)

    def command(self, line):
        verb = line[:4].upper()
        if verb == b"EHLO":
            self.t.write(b"250-bench-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                         b"250 PIPELINING\r\n")
        elif verb == b"HELO":
            self.t.write(b"250 bench-sink\r\n")
        elif verb == b"DATA":
            self.in_data = True
            self.size = 0
            self.t.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            self.t.write(b"221 Bye\r\n")
            self.t.close()
        elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
            self.t.write(b"250 OK\r\n")
        else:
            self.t.write(b"502 5.5.2 Command not implemented\r\n")


class Sink:
    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.port = 0
        self.messages = 0
        self.bytes = 0
        self.connections = 0
        self.lock = threading.Lock()
        self._loop = None
        self._thread = None

    @property
    def url(self):
        return f"smtp://{self.host}:{self.port}"

    def start(self):
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self._loop)
            srv = self._loop.run_until_complete(self._loop.create_server(
                lambda: _Session(self), self.host, 0))
            self.port = srv.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            srv.close()
            self._loop.run_until_complete(srv.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="bench-sink", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("SMTP sink did not start")
        return self

    def stop(self):
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
