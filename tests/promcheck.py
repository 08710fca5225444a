#!/usr/bin/env python3
"""Checks and reads Prometheus text exposition format 0.0.4, for the
integration tests (lib.sh: metric, metrics_problems, promcheck).

    promcheck.py check FILE           problems, one a line; exit 1 when
                                      there are any
    promcheck.py value FILE NAME [L]  sum of the samples NAME whose labels
                                      include L ('k=v,k2=v2'); 0 when there
                                      is none
    promcheck.py labels FILE NAME K   the values label K takes in samples NAME
    promcheck.py types FILE           "FAMILY TYPE HAS-HELP" per declared family

"check" reports what a scraper would reject or misread, among others: bad
names, labels, escapes, values or timestamps; no final newline; a second
HELP or TYPE, or a TYPE after samples; a family's samples not together; a
family without HELP or TYPE; a counter not named *_total, or below 0; a
sample twice; histogram buckets out of order, decreasing, without a last
le="+Inf" equal to _count, or without _sum.
"""
import math, re, sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LNAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ValueError("bad value %r" % s)
    return float(s)


def sample(line):
    m = NAME.match(line)
    if not m:
        raise ValueError("bad metric name")
    name, i, labels = m.group(0), m.end(), {}
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            if line[i] == "}":
                i += 1
                break
            m = LNAME.match(line, i)
            if not m or line[m.end():m.end() + 2] != '="':
                raise ValueError("bad label at column %d" % (i + 1))
            key, i, val = m.group(0), m.end() + 2, ""
            while line[i] != '"':
                if line[i] == "\\":
                    esc = line[i + 1]
                    if esc not in 'n"\\':
                        raise ValueError("bad escape \\%s" % esc)
                    val += "\n" if esc == "n" else esc
                    i += 2
                else:
                    val += line[i]
                    i += 1
            i += 1
            if key in labels:
                raise ValueError("label %s twice" % key)
            labels[key] = val
            if line[i] == ",":
                i += 1
            elif line[i] != "}":
                raise ValueError("bad label list at column %d" % (i + 1))
    rest = line[i:].split()
    if line[i:i + 1] not in (" ", "\t") or len(rest) not in (1, 2):
        raise ValueError("bad value part")
    v = value(rest[0])
    if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
        raise ValueError("bad timestamp")
    return name, labels, v


def parse(text):
    """(families, samples, problems); families: name -> dict."""
    fams, samples, problems, done, current = {}, [], [], set(), None
    if text and not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            m = re.match(r"# (HELP|TYPE) (\S+)(?: (.*))?$", line)
            if not m:
                continue        # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            if not NAME.fullmatch(name):
                problems.append("line %d: bad metric name %r" % (n, name))
                continue
            f = fams.setdefault(name, {"help": None, "type": None, "n": 0})
            if kind == "HELP":
                if f["help"] is not None:
                    problems.append("line %d: second HELP for %s" % (n, name))
                f["help"] = rest
            else:
                if f["type"] is not None:
                    problems.append("line %d: second TYPE for %s" % (n, name))
                if f["n"]:
                    problems.append("line %d: TYPE for %s after its samples" % (n, name))
                if rest not in TYPES:
                    problems.append("line %d: bad type %r" % (n, rest))
                f["type"] = rest
            continue
        try:
            name, labels, v = sample(line)
        except (ValueError, IndexError) as e:
            problems.append("line %d: %s: %r" % (n, e, line[:120]))
            continue
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and fams.get(base, {}).get("type") in ("histogram", "summary"):
                fam = base
        if fam != current:
            if fam in done:
                problems.append("line %d: samples of %s are not grouped together" % (n, fam))
            if current is not None:
                done.add(current)
            current = fam
        f = fams.setdefault(fam, {"help": None, "type": None, "n": 0})
        f["n"] += 1
        samples.append((fam, name, labels, v, n))
    return fams, samples, problems


def check(text):
    fams, samples, problems = parse(text)
    for name, f in sorted(fams.items()):
        if f["type"] is None:
            problems.append("%s has no TYPE" % name)
        if f["help"] is None:
            problems.append("%s has no HELP" % name)
        if f["type"] == "counter" and not name.endswith("_total"):
            problems.append("counter %s does not end in _total" % name)
    seen = set()
    hist = {}
    for fam, name, labels, v, n in samples:
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            problems.append("line %d: sample %s%s twice" % (n, name, labels))
        seen.add(key)
        t = fams[fam]["type"]
        if t == "counter":
            if name != fam:
                problems.append("line %d: counter sample %s is not named %s" % (n, name, fam))
            if not v >= 0:
                problems.append("line %d: counter %s is %r" % (n, name, v))
        if t in ("counter", "gauge") and name != fam:
            problems.append("line %d: %s is not a sample of %s" % (n, name, fam))
        if t == "histogram":
            if name == fam:
                problems.append("line %d: histogram sample %s without a suffix" % (n, name))
                continue
            rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
            h = hist.setdefault((fam, rest), {"buckets": [], "sum": None, "count": None})
            if name.endswith("_bucket"):
                if "le" not in labels:
                    problems.append("line %d: bucket without le" % n)
                    continue
                try:
                    h["buckets"].append((value(labels["le"]), v, labels["le"]))
                except ValueError:
                    problems.append("line %d: bad le %r" % (n, labels["le"]))
            elif name.endswith("_sum"):
                h["sum"] = v
            else:
                h["count"] = v
    for (fam, rest), h in sorted(hist.items()):
        what = "%s%s" % (fam, dict(rest))
        b = h["buckets"]
        if not b:
            problems.append("%s has no buckets" % what)
            continue
        for (le0, c0, _), (le1, c1, _) in zip(b, b[1:]):
            if not le1 > le0:
                problems.append("%s: bucket le=%r after le=%r" % (what, le1, le0))
            if c1 < c0:
                problems.append("%s: bucket le=%r counts less than le=%r" % (what, le1, le0))
        if b[-1][2] != "+Inf":
            problems.append('%s: the last bucket is le="%s", not le="+Inf"' % (what, b[-1][2]))
        if h["count"] is None:
            problems.append("%s has no _count" % what)
        elif b[-1][1] != h["count"]:
            problems.append("%s: +Inf bucket %r differs from _count %r" % (what, b[-1][1], h["count"]))
        if h["sum"] is None:
            problems.append("%s has no _sum" % what)
    return problems


def labelspec(s):
    out = {}
    for part in filter(None, (s or "").split(",")):
        k, _, v = part.partition("=")
        out[k] = v
    return out


def main():
    cmd, text = sys.argv[1], open(sys.argv[2], encoding="utf-8", errors="replace").read()
    if cmd == "check":
        problems = check(text)
        for p in problems:
            print(p)
        sys.exit(1 if problems else 0)
    fams, samples, _ = parse(text)
    if cmd == "value":
        want, total = labelspec(sys.argv[4] if len(sys.argv) > 4 else ""), 0.0
        for fam, name, labels, v, n in samples:
            if name == sys.argv[3] and all(labels.get(k) == x for k, x in want.items()):
                total += v
        print(int(total) if total == int(total) else repr(total))
    elif cmd == "labels":
        vals = sorted({l[sys.argv[4]] for f, name, l, v, n in samples
                       if name == sys.argv[3] and sys.argv[4] in l})
        print("\n".join(vals))
    elif cmd == "types":
        for name, f in sorted(fams.items()):
            print(name, f["type"], "help" if f["help"] is not None else "nohelp")


if __name__ == "__main__":
    main()
