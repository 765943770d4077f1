#!/usr/bin/env python3
"""A scripted SIP phone for the field tests, and a SIP fuzzer.

    sip_probe.py call --from ROLE --to NAME [--server 127.0.0.1:5060] [--hold S]
        Register as ROLE, INVITE sip:NAME@mesh (offering PCMU), print one
        JSON line: {"registered": code, "codes": [...], "final": code,
        "ms_to_180": ms or null}. An answered call is ACKed, held S seconds
        and hung up with a BYE ("bye": its response code).

    sip_probe.py message --from ROLE --to NAME --text TEXT [--server ...]
        Register as ROLE, send a SIP MESSAGE to sip:NAME@mesh, print
        {"registered": code, "final": code, "ms": ms}.

    sip_probe.py fuzz --count N [--server 127.0.0.1:5060] [--seed K]
        Send N malformed SIP messages (mutations of a corpus of valid ones,
        and random bytes) over UDP, a tenth of them over TCP; print
        {"sent": N, "udp": .., "tcp": ..}.
"""

import argparse
import json
import random
import socket
import sys
import time


def parse(data):
    """(start line, {lower header: value}) of a SIP message."""
    text = data.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    hdrs = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs.setdefault(k.strip().lower(), v.strip())
    return head[0], hdrs


class Phone:
    def __init__(self, role, server):
        host, port = server.rsplit(":", 1)
        self.server = (host, int(port))
        self.role = role
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.s.getsockname()[1]
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.n = 0

    def branch(self):
        self.n += 1
        return "z9hG4bKprobe%d%d" % (random.randrange(1 << 30), self.n)

    def send(self, text):
        self.s.sendto(text.encode(), self.server)

    def request(self, method, uri, to, call_id, cseq, tag, body="", to_tag=None, branch=None):
        branch = branch or self.branch()
        to_h = "<%s>" % to + (";tag=%s" % to_tag if to_tag else "")
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        msg = (
            "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:%s@mesh>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
            "Contact: <sip:%s@%s>\r\n%sContent-Length: %d\r\n\r\n%s"
        ) % (method, uri, self.addr, branch, self.role, tag, to_h, call_id, cseq,
             method, self.role, self.addr, ctype, len(body.encode()), body)
        self.send(msg)
        return branch

    def send_dtmf(self, sdp, digits):
        """Some PCMU silence, then each digit as RFC 4733 events, to the
        RTP address of the answer's SDP. Returns the events sent."""
        text = sdp.decode("utf-8", "replace")
        ip = next(l.split()[-1] for l in text.split("\r\n") if l.startswith("c="))
        port = int(next(l.split()[1] for l in text.split("\r\n") if l.startswith("m=audio")))
        dst = (ip, port)
        seq, ts, ssrc, sent = 1000, 8000, 0x5eed, 0

        def rtp(pt, marker, payload):
            nonlocal seq
            hdr = bytes([0x80, pt | (0x80 if marker else 0)]) + seq.to_bytes(2, "big") \
                + ts.to_bytes(4, "big") + ssrc.to_bytes(4, "big")
            seq += 1
            self.rtp.sendto(hdr + payload, dst)

        for _ in range(10):
            rtp(0, False, b"\xff" * 160)
            ts += 160
            time.sleep(0.02)
        for d in digits:
            ev = "0123456789*#".index(d)
            for k in range(1, 6):
                end = k >= 4
                dur = min(k, 4) * 160
                rtp(101, k == 1, bytes([ev, (0x80 if end else 0) | 10]) + dur.to_bytes(2, "big"))
                sent += 1
                time.sleep(0.02)
            ts += 5 * 160
            for _ in range(3):
                rtp(0, False, b"\xff" * 160)
                ts += 160
                time.sleep(0.02)
        return sent

    def responses(self, branch, timeout, bodies=False):
        """Yield (code, headers, arrival) for `branch` until a final one;
        with `bodies`, the headers carry the body under the key ""."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.s.settimeout(left)
            try:
                data, _ = self.s.recvfrom(65536)
            except socket.timeout:
                return
            start, h = parse(data)
            if not start.startswith("SIP/2.0 "):
                # A request to us: a plain 200 keeps the far end happy.
                self.answer(data, 200)
                continue
            if branch not in h.get("via", ""):
                continue
            code = int(start.split()[1])
            if bodies:
                h[""] = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
            yield code, h, time.monotonic()
            if code >= 200:
                return

    def answer(self, data, code):
        _, h = parse(data)
        if data.startswith(b"ACK"):
            return
        resp = "SIP/2.0 %d OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=p\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n" % (
            code, h.get("via", ""), h.get("from", ""), h.get("to", ""), h.get("call-id", ""), h.get("cseq", ""))
        self.send(resp)

    def register(self):
        b = self.request("REGISTER", "sip:mesh", "sip:%s@mesh" % self.role,
                         "reg-%s-%d" % (self.role, random.randrange(1 << 30)), 1, "r1")
        codes = [c for c, _, _ in self.responses(b, 5)]
        return codes[-1] if codes else None

    def message(self, to, text):
        uri = "sip:%s@mesh" % to
        body = text.encode()
        b = self.branch()
        msg = (
            "MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n"
            "From: <sip:%s@mesh>;tag=m1\r\nTo: <%s>\r\nCall-ID: msg-%d\r\nCSeq: 1 MESSAGE\r\n"
            "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
        ) % (uri, self.addr, b, self.role, uri, random.randrange(1 << 40), len(body))
        t0 = time.monotonic()
        self.s.sendto(msg.encode() + body, self.server)
        codes = [(c, at) for c, _, at in self.responses(b, 10)]
        final = codes[-1] if codes and codes[-1][0] >= 200 else None
        return {"final": final[0] if final else None,
                "ms": round((final[1] - t0) * 1000, 1) if final else None}

    def call(self, to, hold, dtmf=""):
        port = self.rtp.getsockname()[1]
        sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\n") % port
        call_id = "probe-%d" % random.randrange(1 << 40)
        uri = "sip:%s@mesh" % to
        t0 = time.monotonic()
        b = self.request("INVITE", uri, uri, call_id, 1, "c1", sdp)
        out = {"codes": [], "final": None, "ms_to_180": None}
        to_tag = None
        answer_sdp = b""
        for code, h, at in self.responses(b, 12, bodies=True):
            if code >= 200:
                answer_sdp = h.get("", b"")
            out["codes"].append(code)
            if code == 180 and out["ms_to_180"] is None:
                out["ms_to_180"] = round((at - t0) * 1000, 1)
            if code >= 200:
                out["final"] = code
                to_hdr = h.get("to", "")
                if ";tag=" in to_hdr:
                    to_tag = to_hdr.split(";tag=", 1)[1].split(";")[0]
        if out["final"] is None:
            return out
        if out["final"] >= 300:
            self.request("ACK", uri, uri, call_id, 1, "c1", to_tag=to_tag, branch=b)
            return out
        self.request("ACK", uri, uri, call_id, 1, "c1", to_tag=to_tag)
        if dtmf:
            out["dtmf_sent"] = self.send_dtmf(answer_sdp, dtmf)
        time.sleep(hold)
        bb = self.request("BYE", uri, uri, call_id, 2, "c1", to_tag=to_tag)
        codes = [c for c, _, _ in self.responses(bb, 5)]
        out["bye"] = codes[-1] if codes else None
        return out


CORPUS = [
    "REGISTER sip:mesh SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKf1\r\nMax-Forwards: 70\r\n"
    "From: <sip:fuzz-%d@mesh>;tag=a\r\nTo: <sip:fuzz-%d@mesh>\r\nCall-ID: r%d\r\nCSeq: 1 REGISTER\r\n"
    "Contact: <sip:fuzz@127.0.0.1:9>;expires=30\r\nContent-Length: 0\r\n\r\n",
    "INVITE sip:medic-12@mesh SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKf2\r\nMax-Forwards: 70\r\n"
    "From: <sip:fuzz-%d@mesh>;tag=b\r\nTo: <sip:medic-%d@mesh>\r\nCall-ID: i%d\r\nCSeq: 1 INVITE\r\n"
    "Contact: <sip:fuzz@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: 80\r\n\r\n"
    "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 9 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\n",
    "BYE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKf3\r\n"
    "From: <sip:a%d@mesh>;tag=c\r\nTo: <sip:b%d@mesh>;tag=d\r\nCall-ID: b%d\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK%d\r\nFrom: <sip:a@mesh>;tag=%d\r\n"
    "To: <sip:b@mesh>;tag=x\r\nCall-ID: %d@callsign\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    "MESSAGE sip:medic-12@mesh SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKf5\r\n"
    "From: <sip:f%d@mesh>;tag=e\r\nTo: <sip:m%d@mesh>\r\nCall-ID: m%d\r\nCSeq: 1 MESSAGE\r\n"
    "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
]
NOISE = [b"\x00", b"\r\n", b";", b"<", b">", b"@", b":", b"\xff", b"%", b"\"", b" ", b"=", b"99999999999"]


def mutate(rng, i):
    base = (rng.choice(CORPUS) % (i, i, i)).encode()
    b = bytearray(base)
    kind = rng.randrange(8)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1500)))
    for _ in range(rng.randrange(1, 12)):
        if not b:
            break
        at = rng.randrange(len(b))
        op = rng.randrange(6)
        if op == 0:
            b[at] = rng.randrange(256)
        elif op == 1:
            del b[at:at + rng.randrange(1, 40)]
        elif op == 2:
            b[at:at] = rng.choice(NOISE)
        elif op == 3:
            # A header repeated many times.
            line_end = b.find(b"\r\n", at)
            line_start = b.rfind(b"\r\n", 0, at)
            if 0 <= line_start < line_end:
                line = bytes(b[line_start:line_end])
                b[line_end:line_end] = line * rng.randrange(2, 60)
        elif op == 4:
            b = b.replace(b"Content-Length: ", b"Content-Length: %d" % rng.choice([-1, 99999, 2 ** 40]), 1)
        else:
            b = b[:at]
    return bytes(b)


def fuzz(server, count, seed):
    host, port = server.rsplit(":", 1)
    dst = (host, int(port))
    rng = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp = tcp = 0
    start = time.monotonic()
    conn = None
    for i in range(count):
        data = mutate(rng, i)
        if i % 10 == 9:
            try:
                if conn is None or rng.randrange(20) == 0:
                    if conn is not None:
                        conn.close()
                    conn = socket.create_connection(dst, timeout=2)
                conn.sendall(data)
                tcp += 1
            except OSError:
                conn = None
        else:
            try:
                s.sendto(data[:65000], dst)
                udp += 1
            except OSError:
                pass
        if i % 500 == 499:
            ahead = (i + 1) / 5000.0 - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    if conn is not None:
        conn.close()
    return {"sent": count, "udp": udp, "tcp": tcp}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("call")
    c.add_argument("--from", dest="role", required=True)
    c.add_argument("--to", required=True)
    c.add_argument("--server", default="127.0.0.1:5060")
    c.add_argument("--hold", type=float, default=0.5)
    c.add_argument("--dtmf", default="", help="digits sent as RFC 4733 events once answered")
    m = sub.add_parser("message")
    m.add_argument("--from", dest="role", required=True)
    m.add_argument("--to", required=True)
    m.add_argument("--text", required=True)
    m.add_argument("--server", default="127.0.0.1:5060")
    f = sub.add_parser("fuzz")
    f.add_argument("--count", type=int, default=10000)
    f.add_argument("--server", default="127.0.0.1:5060")
    f.add_argument("--seed", type=int, default=5060)
    a = ap.parse_args()
    if a.cmd == "fuzz":
        print(json.dumps(fuzz(a.server, a.count, a.seed)))
        return 0
    p = Phone(a.role, a.server)
    reg = p.register()
    out = {"registered": reg}
    if reg == 200 and a.cmd == "message":
        out.update(p.message(a.to, a.text))
    elif reg == 200:
        out.update(p.call(a.to, a.hold, a.dtmf))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
