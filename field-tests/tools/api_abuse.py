"""Hammer a callsign daemon's local API, all at once, for a while.

Run inside the daemon's network namespace (the API on 127.0.0.1):
    api_abuse.py PORT TOKEN SECONDS SUBSCRIBERS
In parallel:
  - one event-stream subscriber that reads, counting the events it gets
    by kind while the rest goes on;
  - SUBSCRIBERS more event-stream subscribers (with the token) that read
    their answer's status line and then never another byte;
  - 200 slowloris connections that send a request head one byte a second
    (reconnected when the daemon drops them);
  - oversized (256 KiB), malformed, mistyped and binary JSON bodies, with
    the token, one after another.
Prints one JSON object with what the daemon answered.
"""
import json
import resource
import socket
import sys
import threading
import time

PORT, TOKEN, SECONDS = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
SSE = int(sys.argv[4])
HOST = f"127.0.0.1:{PORT}"
SLOW = 200
out = {}
lock = threading.Lock()
stop = threading.Event()


def count(key, what):
    with lock:
        d = out.setdefault(key, {})
        d[what] = d.get(what, 0) + 1


def status_of(data):
    parts = data.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/"):
        return parts[1].decode()
    return "closed" if not data else "garbage"


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return s


SSE_REQ = (f"GET /v1/events HTTP/1.1\r\nHost: {HOST}\r\n"
           f"Authorization: Bearer {TOKEN}\r\n\r\n").encode()


def reader(ready):
    """One subscriber that keeps reading: events still flow to it."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=1)
    s.sendall(SSE_REQ)
    buf = b""
    events = {}
    first = True
    ready.set()
    while not stop.is_set():
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            count("sse_reader", "closed")
            break
        if first:
            count("sse_reader", status_of(chunk))
            first = False
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.startswith(b"event:"):
                kind = line[6:].strip().decode(errors="replace")
                events[kind] = events.get(kind, 0) + 1
    with lock:
        out["sse_reader_events"] = events
    s.close()


def subscribers(held):
    for _ in range(SSE):
        try:
            s = connect()
            s.sendall(SSE_REQ)
            held.append(s)
        except OSError as e:
            count("sse", f"connect error {e.errno}")
    # Each answer's status line, then never another read.
    for i, s in enumerate(held):
        try:
            s.settimeout(3)
            st = status_of(s.recv(12))
        except OSError:
            st = "no answer"
        count("sse", st)
        held[i] = (s, st)


def still_open(s):
    """Whether the daemon still holds this connection: what it left unread
    is taken (the abuse is over), then either nothing more for now (open)
    or the end (closed)."""
    s.setblocking(False)
    try:
        while s.recv(65536):
            pass
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def slowloris():
    head = f"GET /v1/status HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode()
    conns = []
    deadline = time.monotonic() + SECONDS
    lifetimes = []
    while time.monotonic() < deadline:
        while len(conns) < SLOW:
            try:
                s = connect()
                s.sendall(head)
                s.setblocking(False)
                conns.append((s, time.monotonic()))
            except OSError:
                count("slowloris", "connect error")
                break
        time.sleep(1)
        keep = []
        for s, t0 in conns:
            try:
                s.send(b"a")
                try:
                    d = s.recv(64)
                    # The daemon answered (408 or closed): dropped.
                    count("slowloris", "dropped " + status_of(d))
                    lifetimes.append(time.monotonic() - t0)
                    s.close()
                    continue
                except BlockingIOError:
                    pass
                keep.append((s, t0))
            except OSError:
                count("slowloris", "dropped reset")
                lifetimes.append(time.monotonic() - t0)
                s.close()
        conns = keep
    with lock:
        out["slowloris_max_lifetime_s"] = round(max(lifetimes, default=0), 1)
        out["slowloris_open_at_end"] = len(conns)
    for s, _ in conns:
        s.close()


def request(method, path, body, ctype="application/json"):
    s = connect()
    try:
        try:
            s.sendall((f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
                       f"Authorization: Bearer {TOKEN}\r\nContent-Type: {ctype}\r\n"
                       f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
                      + body)
        except OSError:
            # The daemon answered before taking the whole body (413) and
            # closed: its answer is still there to read.
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                if data:
                    break
                raise
            if not chunk:
                break
            data += chunk
        return status_of(data), data
    finally:
        s.close()


def bodies():
    cases = [
        ("oversized", "/v1/claim", b'{"name": "' + b"x" * (256 * 1024) + b'"}',
         "application/json"),
        ("malformed", "/v1/claim", b'{"name": ', "application/json"),
        ("wrong_type", "/v1/presence", b'{"presence": 7}', "application/json"),
        ("not_json", "/v1/messages", b"\x00\xff" * 100, "application/json"),
        ("no_content_type", "/v1/claim", b'{"name": "x"}', "text/plain"),
    ]
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        for key, path, body, ctype in cases:
            try:
                st, data = request("POST", path, body, ctype)
                count(key, st)
                if st != "200" and b'"error"' not in data:
                    count(key, "no json error")
            except OSError as e:
                count(key, f"error {e.errno}")
        time.sleep(0.02)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    ready = threading.Event()
    rd = threading.Thread(target=reader, args=(ready,))
    rd.start()
    ready.wait(5)
    held = []
    ts = [threading.Thread(target=f, args=a) for f, a in
          [(subscribers, (held,)), (slowloris, ()), (bodies, ())]]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for s, st in held:
        count("sse_at_end", f"{st} {'open' if still_open(s) else 'closed'}")
    stop.set()
    rd.join()
    for s, _ in held:
        s.close()
    print(json.dumps(out, sort_keys=True), flush=True)


main()
