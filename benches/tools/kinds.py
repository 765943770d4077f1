"""Count callsign datagrams by packet kind on every port of a bridge.

Run inside the bridge's namespace (benches/quiet.sh, SNIFF=1): every frame
a node sends arrives once on its bridge port; frames the bridge sends out
are skipped. Prints packets/s and L2 bit/s per node for each kind
(multicast and unicast apart).
    python3 kinds.py SECONDS NODES
"""
import socket
import sys
import time

KINDS = {1: "hello", 2: "update", 3: "request", 4: "ack", 5: "names", 6: "cert",
         11: "flood-nack", 16: "data", 17: "flood"}
PACKET_OUTGOING = 4
UNICAST_FLAG = 0x01
# KINDS_OWN=1: run in a node's namespace and count what it sends.
OWN = bool(__import__("os").environ.get("KINDS_OWN"))


def main():
    secs, nodes = float(sys.argv[1]), int(sys.argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    s.settimeout(0.2)
    counts = {}
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        ifname, pkttype = addr[0], addr[2]
        if OWN:
            if pkttype != PACKET_OUTGOING:
                continue
        elif pkttype == PACKET_OUTGOING or ifname.startswith("br"):
            continue
        if len(frame) < 14 + 40 + 8 + 4 or frame[12:14] != b"\x86\xdd":
            kind = "other"
        elif frame[14 + 6] != 17:
            kind = "other-ipv6 (icmpv6: %d)" % frame[14 + 6]
        else:
            p = frame[14 + 48:]
            kind = KINDS.get(p[1], "type-%d" % p[1])
            kind += " multicast" if frame[0] & 1 else " unicast"
        c = counts.setdefault(kind, [0, 0])
        c[0] += 1
        c[1] += len(frame)
    for kind, (n, b) in sorted(counts.items(), key=lambda kv: -kv[1][1]):
        print("  %-28s %7.3f packets/s %7.0f bit/s per node"
              % (kind, n / secs / nodes, b * 8 / secs / nodes))


if __name__ == "__main__":
    main()
