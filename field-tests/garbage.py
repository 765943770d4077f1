#!/usr/bin/env python3
"""Send N random datagrams to ADDR ([fe80::x%if]:port), paced so the run is
bounded (about 20 000 per second). A third look like callsign headers
(version 1, a known type) with random rest, to reach deeper decoders."""
import os, random, socket, sys, time

addr, count = sys.argv[1], int(sys.argv[2])
host, port = addr.rsplit(":", 1)
host = host.strip("[]")
info = socket.getaddrinfo(host, int(port), socket.AF_INET6, socket.SOCK_DGRAM)[0]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
rng = random.Random(7470)
start = time.monotonic()
for i in range(count):
    n = rng.choice([0, 1, 3, 23, 24, 25, 39, 40, 41, 200, 1232, 1233, rng.randrange(0, 1400)])
    data = bytearray(os.urandom(n))
    if i % 3 == 0 and n >= 2:
        data[0] = 1
        data[1] = rng.randrange(0, 8)
    try:
        s.sendto(bytes(data), info[4])
    except OSError:
        pass
    if i % 1000 == 999:
        ahead = (i + 1) / 20000.0 - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
