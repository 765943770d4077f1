"""Relay a Unix socket to a TCP port on this namespace's loopback.

The field tests run a browser's WebDriver inside a node's network
namespace (so the browser reaches that daemon at 127.0.0.1:7480 as a user
would); the test, outside it, talks to the WebDriver through this socket.
Usage: uds_relay.py SOCKET_PATH PORT
"""
import os
import socket
import sys
import threading


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(16)
    while True:
        c, _ = srv.accept()
        try:
            u = socket.create_connection(("127.0.0.1", port), timeout=10)
            u.settimeout(None)
        except OSError:
            c.close()
            continue
        threading.Thread(target=pipe, args=(c, u), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()


main()
