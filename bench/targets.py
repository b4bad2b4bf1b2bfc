#!/usr/bin/env python3
"""Target check for one run_peers.sh output directory (bench/README.md).

usage: targets.py OUTDIR [--engine newsidx] [--title TEXT]

Reads E.index.log (INDEX line) and E.{TOP10,COUNT}.tsv.lat of every engine in
OUTDIR and prints markdown tables:
  1. per engine: build s (build + optimize), docs/s, text MB/s, index MB;
  2. per query class: mean TOP10 and COUNT latency (µs) of every engine;
  3. the issue targets for --engine against the peers, as ratios:
     throughput vs FTS5 (>= 2) and vs Lucene (>= 4), index size vs the
     smallest peer (<= 0.85), mean latency per class and mode vs the fastest
     peer (<= 0.5).
Throughput = text bytes (title + "\\n" + body, what every engine indexes) per
second of build + optimize, as summarize.py's "index s".

A run with PEERS_STORE=1 (every engine stores the text; ours is the product,
see newsidx_bench.c) is recognized by our index log and checked against
issue 10's targets instead: build + optimize time <= 0.5x FTS5's and
<= 0.25x Lucene's, index size <= 0.5x FTS5's; where OUTDIR/product.txt holds
the CLI's PRODUCT line (run_compare.sh writes it in such runs), the
`newsidx index` wall time gets the same time rows.
"""
import argparse
import os
import re
import statistics

PEERS = ["fts5", "xapian", "lucene"]
CLASSES = ["term", "intersection", "union", "phrase"]


def index_info(outdir, e):
    p = os.path.join(outdir, f"{e}.index.log")
    if not os.path.exists(p):
        return None
    for line in open(p):
        if line.startswith("INDEX "):
            d = dict(re.findall(r"(\w+)=(\S+)", line))
            d["secs"] = float(d["build_s"]) + float(d["optimize_s"])
            return d
    return None


def means(outdir, e, mode):
    p = os.path.join(outdir, f"{e}.{mode}.tsv.lat")
    if not os.path.exists(p):
        return {}
    by = {}
    for line in open(p):
        tag, _, us = line.rstrip("\n").split("\t")
        by.setdefault(re.split(r"[.:]", tag, maxsplit=1)[0], []).append(float(us))
    allv = [v for vs in by.values() for v in vs]
    out = {t: statistics.mean(v) for t, v in by.items()}
    if allv:
        out["all"] = statistics.mean(allv)
    return out


def stored_run(outdir, e):
    p = os.path.join(outdir, f"{e}.index.log")
    return os.path.exists(p) and any(line.startswith("# stored model") for line in open(p))


def product_wall(outdir):
    p = os.path.join(outdir, "product.txt")
    if not os.path.exists(p):
        return None
    for line in open(p):
        if line.startswith("PRODUCT "):
            return float(dict(re.findall(r"(\w+)=(\S+)", line))["wall_s"])
    return None


def stored_targets(outdir, info, me):
    """Issue 10's targets for the stored model: time and size vs the peers'."""
    print(f"| target ({me}, text stored) | value | goal | met |")
    print("| --- | ---: | ---: | --- |")
    times = [(f"{me} build+optimize", info[me]["secs"])]
    wall = product_wall(outdir)
    if wall is not None:
        times.append(("`newsidx index` wall", wall))
    for what, t in times:
        for peer, goal in (("fts5", 0.5), ("lucene", 0.25)):
            if peer in info:
                r = t / info[peer]["secs"]
                print(f"| {what} / {peer} build+optimize ({info[peer]['secs']:.2f} s) | {r:.2f}x "
                      f"| <= {goal}x | {'yes' if r <= goal else 'no'} |")
    if "fts5" in info:
        r = int(info[me]["bytes"]) / int(info["fts5"]["bytes"])
        print(f"| index size / fts5 | {r:.2f}x | <= 0.5x | {'yes' if r <= 0.5 else 'no'} |")


def fmt(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--engine", default="newsidx")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    engines = [e for e in PEERS + [a.engine] if index_info(a.outdir, e)]
    info = {e: index_info(a.outdir, e) for e in engines}
    lat = {(e, m): means(a.outdir, e, m) for e in engines for m in ("TOP10", "COUNT")}
    print(f"#### {a.title or os.path.basename(os.path.normpath(a.outdir))}\n")
    print("| engine | build+opt s | docs/s | text MB/s | index MB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for e in engines:
        d = info[e]
        s = d["secs"]
        print(f"| {e} | {s:.2f} | {int(d['docs']) / s:,.0f} | {int(d['text_bytes']) / 1e6 / s:.1f} "
              f"| {int(d['bytes']) / 1e6:.1f} |")
    print()
    print("| mean µs | " + " | ".join(f"{c} TOP10 | {c} COUNT" for c in CLASSES) + " |")
    print("| --- |" + " ---: |" * (2 * len(CLASSES)))
    for e in engines:
        cells = []
        for c in CLASSES:
            for m in ("TOP10", "COUNT"):
                v = lat[e, m].get(c)
                cells.append(fmt(v) if v is not None else "-")
        print(f"| {e} | " + " | ".join(cells) + " |")
    me = a.engine
    if me not in info:
        return
    print()
    if stored_run(a.outdir, me):
        stored_targets(a.outdir, info, me)
        return
    print(f"| target ({me}) | value | goal | met |")
    print("| --- | ---: | ---: | --- |")
    tput = lambda e: int(info[e]["text_bytes"]) / info[e]["secs"]
    for peer, goal in (("fts5", 2.0), ("lucene", 4.0)):
        if peer in info:
            r = tput(me) / tput(peer)
            print(f"| indexing throughput / {peer} | {r:.2f}x | >= {goal:.0f}x | {'yes' if r >= goal else 'no'} |")
    peers = [e for e in PEERS if e in info]
    if peers:
        small = min(peers, key=lambda e: int(info[e]["bytes"]))
        r = int(info[me]["bytes"]) / int(info[small]["bytes"])
        print(f"| index size / smallest peer ({small}) | {r:.2f}x | <= 0.85x | {'yes' if r <= 0.85 else 'no'} |")
    for m in ("TOP10", "COUNT"):
        for c in CLASSES:
            mine = lat[me, m].get(c)
            pv = [(lat[p, m][c], p) for p in peers if c in lat[p, m]]
            if mine is None or not pv:
                continue
            best, bp = min(pv)
            r = mine / best
            print(f"| {m} {c} mean / fastest peer ({bp}, {fmt(best)} µs) | {r:.2f}x | <= 0.5x "
                  f"| {'yes' if r <= 0.5 else 'no'} |")


if __name__ == "__main__":
    main()
