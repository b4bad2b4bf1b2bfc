#!/usr/bin/env python3
"""Latency per query class, p50 / p99 / mean, and ours against the fastest peer.

usage: lat_table.py DIR ENGINE... [--engine newsidx]

Reads E.MODE.tsv.lat (tag, query, µs: one query's median over the timed
passes, as every bench program writes it) from DIR/r*/ (the rounds of
run_search_aba.sh) or, without rounds, from DIR itself.  A query's latency
is the median of its rounds' values; per class (tag base: term.rare ->
term) it prints p50 and p99 (nearest rank) and the mean over the queries —
the mean is what run 7's targets used (targets.py) — and, for --engine,
each of the three as a ratio to the fastest peer's in that column (fts5,
xapian, lucene, whichever are present; issue 10's target: <= 0.5).
"""
import argparse
import glob
import math
import os
import re
import statistics

PEERS = ["fts5", "xapian", "lucene"]
CLASSES = ["term", "intersection", "union", "phrase"]


def nearest_rank(sorted_v, p):
    return sorted_v[max(0, math.ceil(p / 100 * len(sorted_v)) - 1)]


def per_query(dirs, engine, mode):
    """{(class, query): median µs over the rounds}"""
    by = {}
    for d in dirs:
        path = os.path.join(d, f"{engine}.{mode}.tsv.lat")
        if not os.path.exists(path):
            continue
        for line in open(path):
            tag, q, us = line.rstrip("\n").split("\t")
            by.setdefault((re.split(r"[.:]", tag, maxsplit=1)[0], q), []).append(float(us))
    return {k: statistics.median(v) for k, v in by.items()}


def class_stats(pq):
    out = {}
    for cls in CLASSES + ["all"]:
        v = sorted(us for (c, _), us in pq.items() if cls in ("all", c))
        if v:
            out[cls] = (len(v), nearest_rank(v, 50), nearest_rank(v, 99), statistics.mean(v))
    return out


def fmt(x):
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("engines", nargs="+")
    ap.add_argument("--engine", default="newsidx")
    a = ap.parse_args()
    dirs = sorted(glob.glob(os.path.join(a.dir, "r*"))) or [a.dir]
    print(f"{len(dirs)} round(s) in {a.dir}; cells: p50 / p99 / mean µs over the queries")
    for mode in ("TOP10", "COUNT"):
        st = {e: class_stats(per_query(dirs, e, mode)) for e in a.engines}
        if not any(st.values()):
            continue
        peers = [e for e in a.engines if e in PEERS and st[e]]
        ours = a.engine if a.engine in st and st[a.engine] else None
        print(f"\n{mode}\n")
        head = ["class", "n"] + a.engines
        if ours and peers:
            head += [f"{ours} / fastest peer p50", "p99", "mean"]
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for cls in CLASSES + ["all"]:
            if not any(cls in st[e] for e in a.engines):
                continue
            n = next(st[e][cls][0] for e in a.engines if cls in st[e])
            row = [cls, str(n)]
            for e in a.engines:
                s = st[e].get(cls)
                row.append(" / ".join(fmt(x) for x in s[1:]) if s else "-")
            if ours and peers and cls in st[ours]:
                for i in (1, 2, 3):
                    best = min((st[p][cls][i], p) for p in peers if cls in st[p])
                    row.append(f"{st[ours][cls][i] / best[0]:.2f} ({best[1]})")
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
