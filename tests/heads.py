#!/usr/bin/env python3
"""Request heads on the wire, for it_heads.sh.

    heads.py matrix LIMIT >CASEFILE
        writes the smuggling matrix: every framing x head size x route,
        one case per line, "NAME<TAB>HEX" (the bytes to send, in hex).
        NAME is ROUTE/FRAMING/SIZE/N; N marks the case's upstream paths
        (jobid jsm-N, /v1/echo?c=N, a hidden request for /v1/SMUGGLED-N).
    heads.py send PORT CASEFILE
        sends each case on its own connection, all at once, and prints
            NAME answers=N status=S version=V closed=0|1
        answers: status lines received; closed: the server ended the
        connection.  Each connection is read until the server closes it,
        or IDLE seconds after the last byte came (then closed=0), or 8 s;
        both times IT_SLOW (lib.sh) from the environment."""
import os
import re
import socket
import sys
import threading
import time

SLOW = int(os.environ.get("IT_SLOW", "1"))
IDLE = 1.5 * SLOW
MAX = 8 * SLOW


def run(port, name, data, out):
    s = socket.create_connection(("127.0.0.1", port), timeout=MAX)
    got = b""
    closed = 0
    try:
        s.sendall(data)
    except OSError:
        pass                    # refused early: what came back still counts
    start = time.monotonic()
    s.settimeout(IDLE)
    try:
        while time.monotonic() - start < MAX:
            d = s.recv(65536)
            if not d:
                closed = 1
                break
            got += d
    except socket.timeout:
        pass
    except OSError:
        closed = 1              # reset after the answer: closed too
    s.close()
    # A status line may follow a body directly: search, not split.
    lines = re.findall(rb"HTTP/\d\.\d+ \d\d\d", got)
    status = lines[0][-3:].decode() if lines else "-"
    version = lines[0][:-4].decode() if lines else "-"
    out[name] = "%s answers=%d status=%s version=%s closed=%d" % (
        name, len(lines), status, version, closed)


ROUTES = {
    "healthz": "/healthz",
    "jobs": "/v1/luma/jobs/jsm-%d",
    "pass": "/v1/echo?c=%d",
}


def framing(name, smuggled):
    """Header lines and the bytes after the head for one framing."""
    n = len(smuggled)
    return {
        "plain": ([], b""),
        "dup_length": (["Content-Length: 0", "Content-Length: %d" % n],
                       smuggled),
        "head_body": (["Content-Length: %d" % n], smuggled),
        "space_colon": (["Content-Length : %d" % n], smuggled),
        "folded": (["Content-Length:", " %d" % n], smuggled),
        "te_space": (["Transfer-Encoding : chunked"],
                     b"0\r\n\r\n" + smuggled),
    }[name]


def head(method, target, extra, size):
    """A head of exactly size bytes: padding lines, then the extra ones."""
    start = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, target)
    if "/jobs/" in target:
        start += "Authorization: Bearer tokS\r\n"
    tail = "".join(l + "\r\n" for l in extra) + "\r\n"
    left = size - len(start) - len(tail)
    pad = []
    i = 0
    while left > 0:
        n = left if left < 22 else 11
        assert n >= 10, "no room for padding"
        pad.append("X-%05d:%s\r\n" % (i, "v" * (n - 10)))
        left -= n
        i += 1
    h = start + "".join(pad) + tail
    assert len(h) == size
    return h.encode()


def matrix(limit):
    sizes = [limit - 1, limit, limit + 1, 17 * 1024, 18 * 1024, 20 * 1024,
             24 * 1024, 32 * 1024]
    n = 0
    for route, target in ROUTES.items():
        for name in ("plain", "dup_length", "head_body", "space_colon",
                     "folded", "te_space"):
            for size in sizes:
                n += 1
                smuggled = b"GET /v1/SMUGGLED-%d HTTP/1.1\r\nHost: x\r\n\r\n" % n
                extra, after = framing(name, smuggled)
                method = "HEAD" if name == "head_body" else "GET"
                t = target % n if "%d" in target else target
                data = head(method, t, extra, size) + after
                print("%s/%s/%d/%d\t%s" % (route, name, size, n, data.hex()))


def send(port, casefile):
    cases = []
    with open(casefile) as f:
        for line in f:
            name, hexdata = line.rstrip("\n").split("\t")
            cases.append((name, bytes.fromhex(hexdata)))
    out = {}
    threads = [threading.Thread(target=run, args=(port, n, d, out))
               for n, d in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, _ in cases:
        print(out.get(n, n + " answers=0 status=- version=- closed=0"))


if sys.argv[1] == "matrix":
    matrix(int(sys.argv[2]))
else:
    send(int(sys.argv[2]), sys.argv[3])
