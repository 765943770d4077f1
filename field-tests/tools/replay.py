#!/usr/bin/env python3
"""Capture one directory (Names) packet a node sends and send it again to
a neighbour: once unchanged (a replay) and once with a byte of its body
flipped (tampered). Run inside the sender's network namespace:

    replay.py IFACE SRC_ID_HEX DST_LINK_LOCAL TIMEOUT_S

Prints `captured LEN`, then `sent replay`, `sent tampered`; exits 1 if no
packet was seen in time. Standard library only (AF_PACKET needs root)."""
import socket
import sys
import time

PORT = 7470
NAMES = 5
HEADER = 24


def main():
    iface, src_hex, dst, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    src = bytes.fromhex(src_hex)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sniff.bind((iface, 0))
    sniff.settimeout(0.2)
    deadline = time.time() + timeout
    pkt = None
    while pkt is None and time.time() < deadline:
        try:
            frame = sniff.recv(65535)
        except socket.timeout:
            continue
        if len(frame) < 62 or frame[12:14] != b"\x86\xdd" or frame[20] != 17:
            continue
        if int.from_bytes(frame[56:58], "big") != PORT:
            continue
        payload = frame[62:]
        if len(payload) > HEADER and payload[1] == NAMES and payload[4:20] == src:
            pkt = payload
    if pkt is None:
        print("no packet captured", flush=True)
        sys.exit(1)
    print(f"captured {len(pkt)}", flush=True)
    # Let the original reach the neighbour first.
    time.sleep(0.3)
    out = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    idx = socket.if_nametoindex(iface)
    out.sendto(pkt, (dst, PORT, 0, idx))
    print("sent replay", flush=True)
    bad = bytearray(pkt)
    bad[HEADER + (len(pkt) - HEADER) // 3] ^= 0x40
    out.sendto(bytes(bad), (dst, PORT, 0, idx))
    print("sent tampered", flush=True)


if __name__ == "__main__":
    main()
