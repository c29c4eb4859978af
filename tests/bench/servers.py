"""The bench's servers and load generators, all on loopback.

  SmtpSink    Postfix's smtp-sink: accepts everything, counts messages
              (its -c counters); with dump=DIR it writes each message to a
              file there, whose mtime is the moment it was received.
  NginxStub   nginx with its own config answering every request like
              Twilio's Messages API (201, {"sid": "SM<request id>"}); its
              access log has one line per request: msec, sid, status.
  smtp_source smtp-source -s N -d: the machine's SMTP limit.
  wrk_post    wrk POSTing a Twilio-like form: the stub's HTTP limit.

Each server is a process this module started, and is stopped by its pid.
smtp-sink refuses to run as root without -u; it runs as `nobody` then,
so a dump directory is made writable for it.
"""

import os
import re
import shutil
import socket
import subprocess
import time

SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}) at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} does not listen on port {port}")


def stop_proc(proc, timeout=5):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class SmtpSink:
    def __init__(self, workdir, name="smtp-sink", dump=False):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.dump = os.path.join(self.dir, "dump") if dump else None
        self.out = os.path.join(self.dir, "counters")
        self.proc = None

    url = property(lambda self: f"smtp://127.0.0.1:{self.port}")

    def start(self):
        argv = [SMTP_SINK, "-c"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
            os.chmod(self.dir, 0o777)
        if self.dump:
            os.makedirs(self.dump)
            os.chmod(self.dump, 0o777)
            argv += ["-d", os.path.join(self.dump, "%H%M%S.")]
        argv += [f"127.0.0.1:{self.port}", "256"]
        self._f = open(self.out, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._f, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "smtp-sink")
        return self

    def messages(self):
        """Messages received so far (the last -c counter line)."""
        with open(self.out, "rb") as f:
            data = f.read()
        m = re.findall(rb"mesg=(\d+)", data)
        return int(m[-1]) if m else 0

    def wait_messages(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while self.messages() < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages()

    def received(self):
        """{recipient: receipt time (epoch s)} from the dump files."""
        out = {}
        for name in os.listdir(self.dump):
            p = os.path.join(self.dump, name)
            t = os.stat(p).st_mtime_ns / 1e9
            with open(p, "rb") as f:
                head = f.read(4096)
            m = re.search(rb"^X-Rcpt-Args: <([^>]*)>", head, re.M)
            if m:
                out[m.group(1).decode()] = t
        return out

    def stop(self):
        stop_proc(self.proc)
        self._f.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


NGINX_CONF = """# the bench's SMS stub (tests/bench/servers.py)
daemon off;
master_process on;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    log_format stub '$msec $request_id $status';
    access_log {dir}/access.log stub;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 201 '{{"sid": "SM$request_id", "status": "queued"}}';
        }}
    }}
}}
"""


class NginxStub:
    def __init__(self, workdir):
        # Under /tmp: deps.sh tells the bench's nginx from a system one by
        # its "-c /tmp/..." argument.
        self.dir = os.path.join(workdir, "nginx")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.log = os.path.join(self.dir, "access.log")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port))
        self.proc = None

    url = property(lambda self: f"http://127.0.0.1:{self.port}")

    def start(self):
        self.proc = subprocess.Popen([NGINX, "-c", self.conf, "-p", self.dir],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr"), "wb"))
        wait_port(self.port, self.proc, "nginx")
        return self

    def requests(self):
        try:
            with open(self.log, "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def wait_requests(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while self.requests() < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests()

    def received(self):
        """{sid: time the answer went (epoch s)}."""
        out = {}
        with open(self.log) as f:
            for line in f:
                t, rid, _status = line.split()
                out["SM" + rid] = float(t)
        return out

    def stop(self):
        stop_proc(self.proc)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def smtp_source(port, sessions, messages, length, timeout=120):
    """Seconds smtp-source takes for `messages` over `sessions` connections
    (each kept open, -d), or raises."""
    argv = [SMTP_SOURCE, "-s", str(sessions), "-d", "-m", str(messages),
            "-l", str(length), "-M", "bench.example.org",
            "-f", "appointments@example.org", "-t", "client@example.org",
            f"127.0.0.1:{port}"]
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"smtp-source: exit {r.returncode}: {r.stderr[-300:]!r}")
    return wall


WRK_LUA = """wrk.method = "POST"
wrk.body = "To=%2B447700900123&From=%2B447700900000&Body=Hi%20Sam%2C%20a%20reminder%20of%20your%20appointment%20on%20Tuesday%208%20December%20at%2013%3A00."
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic QUMwMTIzOnRva2Vu"
"""


def wrk_post(url, workdir, connections, seconds=3):
    """Requests per second wrk reaches on url with `connections` kept-alive
    connections (one thread per connection, at most 2)."""
    lua = os.path.join(workdir, "wrk.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    threads = min(connections, 2)
    r = subprocess.run([WRK, "-t", str(threads), "-c", str(connections), "-d",
                        f"{seconds}s", "-s", lua,
                        url + "/2010-04-01/Accounts/AC0123/Messages.json"],
                       capture_output=True, text=True, timeout=seconds + 30)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"wrk: exit {r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}")
    return float(m.group(1))


def have_tools():
    missing = [t for t in (SMTP_SINK, SMTP_SOURCE, NGINX, WRK, "/usr/bin/time")
               if not os.access(t, os.X_OK)]
    return missing


def cleanup(path):
    shutil.rmtree(path, ignore_errors=True)
