#!/usr/bin/env python3
"""Clients of SPEC 11 (long poll, event stream) for it_push.sh and
bench/push.sh.  Requests are HTTP/1.1 on raw sockets, so that the tests
see the bytes (chunks, event lines) as they come, can hold thousands of
connections from one process, and can behave as no curl would (never
read, never close).

    push.py many PORT N PATH OUT [-H 'Name: value']... [--conc C]
                 [--ready FILE] [--timeout S]
        N requests at once (C connecting at a time, default 200), each on
        its own connection with "Connection: close", read to the end.
        PATH may hold {i} (0 to N-1).  FILE is created once all N requests
        are sent.  OUT gets one line per request, tab-separated:
            I STATUS MS DONE PREFERENCE-APPLIED X-CACHE JOB-STATUS SHA256
        MS: from the request sent to the answer read; DONE: the epoch
        milliseconds when it was read; STATUS 000 when no answer came
        (error or S seconds, default 30); '-' for an absent header or a
        body that is no job record.
    push.py sse PORT PATH OUT [-H ...] [--duration S]
        reads the answer (an event stream, or anything else) for S seconds
        (default 20) at most, and writes OUT, one JSON object:
            status, headers {lowercase name: [values]}, chunked (bool),
            lines [[ms, line]...] (the body's lines, decoded from chunks;
            one longer than 64 kB cut short), events [{ms, event, status,
            len, sha256, data, id}] (as an EventSource parses them; status:
            the record's, data: null when longer than 64 kB), comments
            [[ms, text]], retry [values],
            end: "terminator" (the last chunk came), "eof" (the server
            closed), "timeout", or "length" (a Content-Length body read),
            body (the decoded body's first 64 kB, latin-1) and ms_end.
    push.py silent PORT PATH [-H ...] [--rcvbuf B]
        sends the request, prints "sent", then neither reads nor closes
        until it is killed.
    push.py nonreader PORT PATH FILE [-H ...] [--rcvbuf B]
        like silent, until FILE exists; then reads whatever comes, for 5 s
        at most, and prints "dropped BYTES" when the server had closed the
        connection (end of stream or reset) or "open BYTES" when it had
        not.  B: the socket's receive buffer (default 4096).
    push.py putjobs FAKEPORT N NAME QUERY BODY
        scripts N jobs in fakeup over one connection: PUT
        /_fake/jobs/NAME?QUERY with BODY, {i} in NAME and BODY replaced.
    push.py rss PID
        the resident set size of PID in kB (VmRSS).
Run the long-lived ones as processes of their own (not in a shell
function's subshell), so that killing $! kills them.
"""
import asyncio
import hashlib
import http.client
import json
import os
import socket
import sys
import time

BIG = 1 << 16    # longer lines and event data are not kept whole in OUT


def args_of(argv, npos):
    """Positional arguments, -H headers and --name value options."""
    pos, hdrs, opts = [], [], {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-H":
            hdrs.append(argv[i + 1])
            i += 2
        elif a.startswith("--"):
            opts[a[2:]] = argv[i + 1]
            i += 2
        else:
            pos.append(a)
            i += 1
    if len(pos) != npos:
        sys.exit("push.py: %d arguments expected, got %r" % (npos, pos))
    return pos, hdrs, opts


def request(path, hdrs, close):
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1"] + hdrs
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = parts[1] if len(parts) > 1 else "000"
    h = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            h.setdefault(k.strip().lower(), []).append(v.strip())
    return status, h


def dechunk(data):
    """(body, complete): the body of chunked data, and whether the last
    chunk came."""
    out, pos = bytearray(), 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False
        try:
            n = int(data[pos:eol].split(b";")[0], 16)
        except ValueError:
            return bytes(out), False
        if n == 0:
            return bytes(out), True
        if len(data) < eol + 2 + n:
            out += data[eol + 2:]
            return bytes(out), False
        out += data[eol + 2:eol + 2 + n]
        pos = eol + 2 + n + 2


class Dechunker:
    """Decodes a chunked body as it comes; done: True once the last chunk
    came, "bad" on a malformed size line."""

    def __init__(self):
        self.buf = bytearray()
        self.left = None        # None: a size line is next; -1: a CRLF
        self.done = False

    def feed(self, d):
        self.buf += d
        out = bytearray()
        while not self.done:
            if self.left is None:
                i = self.buf.find(b"\r\n")
                if i < 0:
                    break
                try:
                    n = int(bytes(self.buf[:i]).split(b";")[0], 16)
                except ValueError:
                    self.done = "bad"
                    break
                del self.buf[:i + 2]
                if n == 0:
                    self.done = True
                    break
                self.left = n
            elif self.left > 0:
                k = min(self.left, len(self.buf))
                if k == 0:
                    break
                out += self.buf[:k]
                del self.buf[:k]
                self.left -= k
                if self.left == 0:
                    self.left = -1
            else:
                if len(self.buf) < 2:
                    break
                del self.buf[:2]
                self.left = None
        return bytes(out)


def record_fields(status, h, body):
    pa = h.get("preference-applied", ["-"])[0]
    xc = h.get("x-cache", ["-"])[0]
    js = "-"
    try:
        v = json.loads(body)
        if isinstance(v, dict) and isinstance(v.get("status"), str):
            js = v["status"]
    except Exception:
        pass
    return pa, xc, js, hashlib.sha256(body).hexdigest()


# ---------------------------------------------------------------- many

async def one(port, path, hdrs, sem, sent, timeout):
    t0 = time.time()
    try:
        async with sem:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), timeout)
            w.write(request(path, hdrs, True))
            await w.drain()
        t0 = time.time()
        sent()
        data = await asyncio.wait_for(r.read(), timeout)
        w.close()
    except Exception:
        sent()
        return ("000", (time.time() - t0) * 1000, time.time(), "-", "-",
                "-", "-")
    t1 = time.time()
    head, _, body = data.partition(b"\r\n\r\n")
    status, h = parse_head(head)
    if "chunked" in ",".join(h.get("transfer-encoding", [])).lower():
        body, _ = dechunk(body)
    return (status, (t1 - t0) * 1000, t1) + record_fields(status, h, body)


async def many(port, n, path, out, hdrs, conc, ready, timeout):
    sem = asyncio.Semaphore(conc)
    left = [n]

    def sent():
        left[0] -= 1
        if left[0] == 0 and ready:
            open(ready, "w").close()

    res = await asyncio.gather(*[
        one(port, path.replace("{i}", str(i)), hdrs, sem, sent, timeout)
        for i in range(n)])
    with open(out, "w") as f:
        for i, (st, ms, done, pa, xc, js, sha) in enumerate(res):
            f.write("%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n" % (
                i, st, ms, done * 1000, pa, xc, js, sha))


# ---------------------------------------------------------------- sse

def sse(port, path, out, hdrs, duration):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(request(path, hdrs, False))
    t0 = time.time()
    deadline = t0 + duration
    raw, head, status, h = b"", None, "000", {}
    end = "timeout"
    body, chunked, clen, got = b"", False, None, 0
    dc = Dechunker()
    lines, pending = [], bytearray()  # lines seen, an unfinished line
    # As an EventSource parses the lines, one at a time.
    events, comments, retry = [], [], []
    cur = dict(ev="", data=None, id=None)

    def line(ms, text):
        lines.append([ms, text if len(text) <= BIG else text[:64] + "..."])
        if text == "":
            data = cur["data"]
            if data is not None:
                d = data[:-1] if data.endswith("\n") else data
                try:
                    st = json.loads(d)["status"]
                except Exception:
                    st = None
                events.append(dict(ms=ms, event=cur["ev"] or "message",
                                   status=st, len=len(d),
                                   sha256=hashlib.sha256(
                                       d.encode("utf-8")).hexdigest(),
                                   data=d if len(d) <= BIG else None,
                                   id=cur["id"]))
            cur["ev"], cur["data"] = "", None
            return
        if text.startswith(":"):
            comments.append([ms, text[1:].strip()])
            return
        name, _, value = text.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            cur["ev"] = value
        elif name == "data":
            cur["data"] = (cur["data"] or "") + value + "\n"
        elif name == "retry":
            retry.append(value)
        elif name == "id":
            cur["id"] = value

    scan = [0]                        # where in pending to look for an end

    def take(new, ms):
        pending.extend(new)
        while True:
            i = scan[0]
            n, r = pending.find(b"\n", i), pending.find(b"\r", i)
            ends = [x for x in (n, r) if x >= 0]
            if not ends:
                scan[0] = len(pending)
                return
            i = min(ends)
            if pending[i] == 13 and i + 1 == len(pending):
                scan[0] = i         # a CR that may begin a CRLF
                return
            step = 2 if pending[i:i + 2] == b"\r\n" else 1
            line(ms, bytes(pending[:i]).decode("utf-8", "replace"))
            del pending[:i + step]
            scan[0] = 0

    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            d = b""
        ms = int((time.time() - t0) * 1000)
        if not d:
            end = "eof"
            break
        if head is None:
            raw += d
            if b"\r\n\r\n" not in raw:
                continue
            hd, _, d = raw.partition(b"\r\n\r\n")
            head = hd
            status, h = parse_head(hd)
            chunked = "chunked" in ",".join(
                h.get("transfer-encoding", [])).lower()
            if not chunked and "content-length" in h:
                clen = int(h["content-length"][0])
        if chunked:
            new = dc.feed(d)
            complete = dc.done is True
        else:
            new = d
            got += len(d)
            complete = clen is not None and got >= clen
        if len(body) < BIG:
            body += new[:BIG - len(body)]
        take(new, ms)
        if complete:
            end = "terminator" if chunked else "length"
            break
    ms_end = int((time.time() - t0) * 1000)
    s.close()
    json.dump(dict(status=status, headers=h, chunked=chunked, lines=lines,
                   events=events, comments=comments, retry=retry, end=end,
                   body=body[:BIG].decode("latin-1"), ms_end=ms_end),
              open(out, "w"))


# ---------------------------------------------------------------- silent

def quiet_socket(port, path, hdrs, rcvbuf):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.sendall(request(path, hdrs, False))
    print("sent", flush=True)
    return s


def nonreader(port, path, until, hdrs, rcvbuf):
    s = quiet_socket(port, path, hdrs, rcvbuf)
    while not os.path.exists(until):
        time.sleep(0.1)
    n, deadline = 0, time.time() + 5
    while True:
        left = deadline - time.time()
        if left <= 0:
            print("open %d" % n)
            return
        s.settimeout(left)
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            print("open %d" % n)
            return
        except OSError:
            d = b""
        if not d:
            print("dropped %d" % n)
            return
        n += len(d)


def putjobs(port, n, name, query, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(n):
        c.request("PUT", "/_fake/jobs/%s?%s" % (name.replace("{i}", str(i)),
                                                 query),
                  body=body.replace("{i}", str(i)).encode())
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("push.py: fakeup answered %d" % r.status)


def main():
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "many":
        (port, n, path, out), hdrs, o = args_of(argv, 4)
        asyncio.run(many(int(port), int(n), path, out, hdrs,
                         int(o.get("conc", 200)), o.get("ready"),
                         float(o.get("timeout", 30))))
    elif cmd == "sse":
        (port, path, out), hdrs, o = args_of(argv, 3)
        sse(int(port), path, out, hdrs, float(o.get("duration", 20)))
    elif cmd == "silent":
        (port, path), hdrs, o = args_of(argv, 2)
        s = quiet_socket(int(port), path, hdrs, int(o.get("rcvbuf", 4096)))
        while True:
            time.sleep(3600)
    elif cmd == "nonreader":
        (port, path, until), hdrs, o = args_of(argv, 3)
        nonreader(int(port), path, until, hdrs, int(o.get("rcvbuf", 4096)))
    elif cmd == "putjobs":
        (port, n, name, query, body), _, _ = args_of(argv, 5)
        putjobs(int(port), int(n), name, query, body)
    elif cmd == "rss":
        for line in open("/proc/%s/status" % argv[0]):
            if line.startswith("VmRSS:"):
                print(line.split()[1])
    else:
        sys.exit("push.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
