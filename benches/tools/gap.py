"""The reroute gap of a ping stream when a relay dies silently.

Runs a ping command, stamps each reply line as it arrives, runs KILL (a
shell command that makes the relay vanish) KILL_AFTER seconds in and keeps
pinging until replies have flowed again for a second (or UNTIL seconds
after the kill). Prints the longest gap between two replies from the last
reply before the kill on, in milliseconds, or `none (why)` when replies
never resumed (benches/quiet.sh).
    python3 gap.py KILL_AFTER UNTIL MARKER KILL -- CMD ...
MARKER is a substring of the ping's reply lines (`"type":"reply"` for
`callsign ping --json`, `bytes from` for ping(8)).
"""
import os
import selectors
import subprocess
import sys
import time


def main():
    kill_after, until, marker, kill = (float(sys.argv[1]), float(sys.argv[2]),
                                       sys.argv[3], sys.argv[4])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    ping = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, bufsize=0)
    sel = selectors.DefaultSelector()
    sel.register(ping.stdout, selectors.EVENT_READ)
    start = time.monotonic()
    killed = None
    replies = []
    buf = b""
    try:
        while True:
            now = time.monotonic()
            if killed is None and now - start >= kill_after:
                killed = time.monotonic()
                if subprocess.run(["sh", "-c", kill], check=False).returncode != 0:
                    print("none (making the relay vanish failed)")
                    return
            if killed is not None:
                after = [t for t in replies if t > killed]
                # Resumed for a second: the route is back and stable.
                if after and replies[-1] - after[0] >= 1.0:
                    break
                if now - killed >= until:
                    break
            if ping.poll() is not None:
                break
            for key, _ in sel.select(timeout=0.01):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    continue
                buf += chunk
                *lines, buf = buf.split(b"\n")
                t = time.monotonic()
                replies.extend(t for ln in lines if marker.encode() in ln)
    finally:
        ping.kill()
        ping.wait()
    before = [t for t in replies if killed is not None and t <= killed]
    if len(before) < 10:
        print("none (ping ran badly before the kill: %d replies)" % len(before))
        return
    resumed = [t for t in replies if t > killed + 0.1]
    if not resumed:
        if ping.returncode is not None and time.monotonic() - killed < until:
            print("none (the ping exited, status %d)" % ping.returncode)
        else:
            print("none (no reply within %.0f s of the kill)" % until)
        return
    last = before[-1]
    tail = [t for t in replies if t >= last]
    gap = max(b - a for a, b in zip(tail, tail[1:]))
    print("%.0f" % (gap * 1000))


if __name__ == "__main__":
    main()
