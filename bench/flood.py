#!/usr/bin/env python3
"""Clients that hold a server's connections: idle, slow to send a request
head (slowloris), slow to read an answer.  For bench/flood.sh and
tests/it_flood.sh; loopback only.  Each mode runs one asyncio loop with
raw non-blocking sockets (HTTP/1.1, no library), so that one process
holds thousands of connections and each behaves exactly as described.

    flood.py idle PORT N SECONDS [--path P] [--every S] [-H 'Name: value']...
        N keep-alive connections; each GETs P (default /healthz), reads
        the answer, then sends nothing more (with --every: P again every S
        seconds on the same connection).
    flood.py slowloris PORT N SECONDS [--interval S] [--reconnect]
        N connections; each sends a request head one byte every S seconds
        (default 1) and never ends it.  With --reconnect a client that the
        server cut off connects again at once, as an attacker would.
    flood.py slowread PORT PATH N SECONDS --rate BYTES [--rcvbuf BYTES]
                      [--sha256 HEX] [--stall S]
        N connections; each GETs PATH with a receive buffer of RCVBUF bytes
        (default 4096) and reads RATE bytes a second of the answer, until
        it is whole.  --stall: reads nothing for S seconds once the head
        is in, then as fast as it comes (RATE does not apply).
    flood.py get PORT PATH N [--conns C] [-H 'Name: value']...
        N GETs of PATH over C keep-alive connections (default 4): a
        client that needs answers while the others hold the server.

Every mode stops after SECONDS (get: when done), or on SIGTERM/SIGINT,
closes its connections and prints one JSON object:
    clients, connect_failed, and
    idle:      answers, statuses {status: count}, closed_by_server,
               closed_after_s {min, max} (from connect), open_at_end
    slowloris: connections (reconnects too), cut (closed by the server),
               cut_after_s {min, median, max} (from connect), answers
               {status line or "none": count} (what came before the cut),
               head_bytes_max (sent by one connection), open_at_end
    slowread:  statuses, complete (the whole body, and its SHA-256 when
               --sha256), cut (ended by the server before the whole body),
               bytes {min, max}, seconds {min, max} (to complete),
               open_at_end
    get:       statuses, x_cache {value: count}, bodies {sha256: count},
               failed (no answer)
--ready FILE (every mode but get) is created once every client has
connected (idle: and had its first answer; slowloris: sent its first
byte; slowread: sent its request), or failed to.
"""
import argparse
import asyncio
import hashlib
import json
import signal
import socket
import statistics
import sys
import time

CONNECTING = 100        # connects in flight at once (listen backlogs are short)
HEAD_LIMIT = 65536      # an answer's head longer than this is given up


class Stop(Exception):
    """The run is over: SECONDS passed or a signal came."""


def request(path, headers=()):
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1"] + list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def stats(values, *names):
    """{min, [median,] max} of values, rounded; {} when there are none."""
    if not values:
        return {}
    out = {"min": min(values), "median": statistics.median(values),
           "max": max(values)}
    return {k: round(out[k], 2) for k in names}


class Client:
    """One connection, with what every mode needs: connect, send, and
    receive into a buffer that answers are parsed from."""

    def __init__(self, loop, port, rcvbuf=None):
        self.loop, self.port, self.rcvbuf = loop, port, rcvbuf
        self.sock = None
        self.buf = bytearray()
        self.t0 = None
        self.eof = False

    async def connect(self, gate):
        async with gate:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            if self.rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            try:
                await self.loop.sock_connect(s, ("127.0.0.1", self.port))
            except OSError:
                s.close()
                raise
        self.sock = s
        self.t0 = time.monotonic()

    def age(self):
        return time.monotonic() - self.t0

    async def send(self, data):
        await self.loop.sock_sendall(self.sock, data)

    async def fill(self, n=65536):
        """Reads up to n more bytes into buf; False at the end of input (a
        reset counts as one)."""
        try:
            d = await self.loop.sock_recv(self.sock, n)
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    async def head(self):
        """(status, {lowercase name: value}) of the next answer's head, or
        (None, {}) when the input ends first."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > HEAD_LIMIT or not await self.fill():
                return None, {}
        raw, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return (parts[1] if len(parts) > 1 else "?"), hdrs

    async def body(self, hdrs):
        """The body of an answer with Content-Length (none: empty)."""
        n = int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            if not await self.fill(n - len(self.buf)):
                break
        out, self.buf = bytes(self.buf[:n]), self.buf[n:]
        return out

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Run:
    """Counts the clients that got going, signals --ready, and ends the
    run at its deadline or on a signal."""

    def __init__(self, n, seconds, ready):
        self.n, self.ready = n, ready
        self.started = 0
        self.done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.done.set)
        loop.call_later(seconds, self.done.set)
        self.gate = asyncio.Semaphore(CONNECTING)

    def going(self):
        """A client is under way (or failed to get there)."""
        self.started += 1
        if self.started == self.n and self.ready:
            open(self.ready, "w").close()

    async def until(self, aw):
        """Awaits aw unless the run ends first (raises Stop then)."""
        task = asyncio.ensure_future(aw)
        stop = asyncio.ensure_future(self.done.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            stop.cancel()
            return task.result()
        task.cancel()
        raise Stop()

    async def sleep(self, s):
        await self.until(asyncio.sleep(s))

    async def gather(self, coros):
        await asyncio.gather(*coros)


# ---------------------------------------------------------------- idle

async def idle(a):
    loop = asyncio.get_running_loop()
    run = Run(a.n, a.seconds, a.ready)
    res = {"clients": a.n, "connect_failed": 0, "answers": 0, "statuses": {},
           "closed_by_server": 0, "open_at_end": 0}
    closed_after = []
    req = request(a.path, a.H)

    async def ask(c):
        await c.send(req)
        status, hdrs = await c.head()
        if status is None:
            return False
        await c.body(hdrs)
        res["answers"] += 1
        res["statuses"][status] = res["statuses"].get(status, 0) + 1
        return not c.eof

    async def one():
        c = Client(loop, a.port)
        first = True
        try:
            await run.until(c.connect(run.gate))
            alive = await run.until(ask(c))
            run.going()
            first = False
            while alive:
                if a.every:
                    await run.sleep(a.every)
                    alive = await run.until(ask(c))
                else:
                    alive = await run.until(c.fill())
            res["closed_by_server"] += 1
            closed_after.append(c.age())
        except Stop:
            if c.sock is not None:
                res["open_at_end"] += 1
        except OSError:
            res["connect_failed"] += c.sock is None
            res["closed_by_server"] += c.sock is not None
        finally:
            if first:
                run.going()
            c.close()

    await run.gather(one() for _ in range(a.n))
    res["closed_after_s"] = stats(closed_after, "min", "max")
    return res


# ---------------------------------------------------------------- slowloris

async def slowloris(a):
    loop = asyncio.get_running_loop()
    run = Run(a.n, a.seconds, a.ready)
    res = {"clients": a.n, "connect_failed": 0, "connections": 0, "cut": 0,
           "answers": {}, "head_bytes_max": 0, "open_at_end": 0}
    cut_after = []
    # A head that never ends: a request line, then header lines.
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        b"X-Slow-%d: %d\r\n" % (i, i) for i in range(100000))

    async def trickle(c, going):
        """Sends head a byte at a time until the server ends the
        connection; returns the bytes sent."""
        sent = 0
        while not c.eof:
            try:
                await c.send(head[sent:sent + 1])
            except OSError:
                break
            sent += 1
            going()
            # Whatever comes back within the interval: an answer, the end.
            try:
                await asyncio.wait_for(c.fill(), a.interval)
            except asyncio.TimeoutError:
                pass
        while not c.eof:        # the rest of an answer, if any
            await c.fill()
        return sent

    async def one():
        said = []

        def going():
            if not said:
                said.append(1)
                run.going()
        try:
            while True:
                c = Client(loop, a.port)
                try:
                    await run.until(c.connect(run.gate))
                    res["connections"] += 1
                    sent = await run.until(trickle(c, going))
                except Stop:
                    res["open_at_end"] += c.sock is not None
                    return
                except OSError:
                    res["connect_failed"] += 1
                    return
                finally:
                    c.close()
                res["cut"] += 1
                cut_after.append(c.age())
                res["head_bytes_max"] = max(res["head_bytes_max"], sent)
                line = bytes(c.buf).split(b"\r\n", 1)[0].decode("latin-1")
                key = line[:40] or "none"
                res["answers"][key] = res["answers"].get(key, 0) + 1
                if not a.reconnect:
                    return
        finally:
            going()

    await run.gather(one() for _ in range(a.n))
    res["cut_after_s"] = stats(cut_after, "min", "median", "max")
    return res


# ---------------------------------------------------------------- slowread

async def slowread(a):
    loop = asyncio.get_running_loop()
    run = Run(a.n, a.seconds, a.ready)
    res = {"clients": a.n, "connect_failed": 0, "statuses": {}, "complete": 0,
           "cut": 0, "open_at_end": 0}
    nbytes, took = [], []
    req = request(a.path)

    async def read_body(c, size, digest, got):
        """Reads the body's size bytes at RATE a second (after --stall
        seconds of nothing); returns got, the bytes read so far."""
        if a.stall:
            await run.sleep(a.stall)
        while got[0] < size:
            if a.stall:
                want = 1 << 20
            else:
                # RATE bytes a second on average since the head came.
                want = int(a.rate * c.age()) - got[0]
                if want < min(4096, size - got[0]):
                    await run.sleep(0.05)
                    continue
            if c.buf:
                d, c.buf = bytes(c.buf[:size - got[0]]), bytearray()
            else:
                try:
                    d = await run.until(loop.sock_recv(
                        c.sock, min(want, size - got[0], 1 << 20)))
                except (ConnectionResetError, BrokenPipeError):
                    d = b""
                if not d:
                    return
            digest.update(d)
            got[0] += len(d)

    async def one():
        c = Client(loop, a.port, a.rcvbuf)
        digest = hashlib.sha256()
        got = [0]
        try:
            await run.until(c.connect(run.gate))
            await c.send(req)
            run.going()
            status, hdrs = await run.until(c.head())
            if status is None:
                res["cut"] += 1
                return
            res["statuses"][status] = res["statuses"].get(status, 0) + 1
            size = int(hdrs.get("content-length", "0"))
            c.t0 = time.monotonic()     # the rate counts from the head on
            await read_body(c, size, digest, got)
            if got[0] < size:
                res["cut"] += 1
            elif not a.sha256 or digest.hexdigest() == a.sha256:
                res["complete"] += 1
                took.append(c.age())
        except Stop:
            res["open_at_end"] += 1
        except OSError:
            if c.sock is None:
                res["connect_failed"] += 1
                run.going()
            else:
                res["cut"] += 1
        finally:
            nbytes.append(got[0])
            c.close()

    await run.gather(one() for _ in range(a.n))
    res["bytes"] = stats(nbytes, "min", "max")
    res["seconds"] = stats(took, "min", "max")
    return res


# ---------------------------------------------------------------- get

async def get(a):
    loop = asyncio.get_running_loop()
    res = {"clients": a.conns, "connect_failed": 0, "statuses": {},
           "x_cache": {}, "bodies": {}, "failed": 0}
    req = request(a.path, a.H)
    left = [a.n]
    gate = asyncio.Semaphore(CONNECTING)

    def count(d, k):
        d[k] = d.get(k, 0) + 1

    async def one():
        c = None
        while left[0] > 0:
            left[0] -= 1
            try:
                if c is None:
                    c = Client(loop, a.port)
                    await asyncio.wait_for(c.connect(gate), 10)
                await c.send(req)
                status, hdrs = await asyncio.wait_for(c.head(), 10)
                if status is None:
                    raise ConnectionResetError()
                body = await asyncio.wait_for(c.body(hdrs), 10)
            except (OSError, asyncio.TimeoutError):
                res["failed"] += 1
                if c.sock is None:
                    res["connect_failed"] += 1
                c.close()
                c = None
                continue
            count(res["statuses"], status)
            count(res["x_cache"], hdrs.get("x-cache", "-"))
            count(res["bodies"], hashlib.sha256(body).hexdigest())
            if hdrs.get("connection", "").lower() == "close":
                c.close()
                c = None
        if c is not None:
            c.close()

    await asyncio.gather(*(one() for _ in range(a.conns)))
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    for name in ("idle", "slowloris", "slowread", "get"):
        s = sub.add_parser(name)
        s.add_argument("port", type=int)
        if name in ("slowread", "get"):
            s.add_argument("path")
        s.add_argument("n", type=int)
        if name == "get":
            s.add_argument("--conns", type=int, default=4)
        else:
            s.add_argument("seconds", type=float)
            s.add_argument("--ready")
        if name in ("idle", "get"):
            s.add_argument("-H", action="append", default=[])
        if name == "idle":
            s.add_argument("--path", default="/healthz")
            s.add_argument("--every", type=float, default=0)
        if name == "slowloris":
            s.add_argument("--interval", type=float, default=1)
            s.add_argument("--reconnect", action="store_true")
        if name == "slowread":
            s.add_argument("--rate", type=int, required=True)
            s.add_argument("--rcvbuf", type=int, default=4096)
            s.add_argument("--sha256")
            s.add_argument("--stall", type=float, default=0)
    a = p.parse_args()
    mode = {"idle": idle, "slowloris": slowloris, "slowread": slowread,
            "get": get}[a.mode]
    res = asyncio.run(mode(a))
    print(json.dumps(dict(mode=a.mode, **res), sort_keys=True))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
