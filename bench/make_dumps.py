#!/usr/bin/env python3
"""bench/make_dumps.py — one JSON Lines corpus written out as an archivist's
dump, for bench/run_dumps.sh: a directory of HTML pages (one per article,
in the shape of a news site: <title>, og:title, a <nav>, the paragraphs in
<article>, a <footer>), the same files as a .tar.zst, and the same pages as
a .warc.gz (a request and a response record per page, each record its own
gzip member, as crawlers write them).

    bench/make_dumps.py CORPUS.jsonl[.zst] OUTDIR

Writes OUTDIR/html/, OUTDIR/html.tar.zst, OUTDIR/html.warc.gz. The zstd
command line tool compresses the tar (level 3, its default)."""
import gzip
import html
import io
import json
import os
import subprocess
import sys
import tarfile


def read_corpus(path):
    if path.endswith(".zst"):
        raw = subprocess.run(["zstd", "-dc", "--", path], check=True,
                             stdout=subprocess.PIPE).stdout
    else:
        with open(path, "rb") as f:
            raw = f.read()
    for line in raw.splitlines():
        if line.strip():
            yield json.loads(line)


def page(doc):
    title = html.escape(doc.get("title", ""))
    paras = "\n".join("<p>%s</p>" % html.escape(p.strip())
                      for p in doc.get("body", "").split("\n") if p.strip())
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<title>%s - News</title>\n<meta property=\"og:title\" content=\"%s\">\n"
            "</head><body>\n<nav><a href=\"/\">Home</a> <a href=\"/world\">World</a> "
            "<a href=\"/business\">Business</a></nav>\n<article><h1>%s</h1>\n%s\n</article>\n"
            "<footer>Copyright the publisher. All rights reserved.</footer>\n</body></html>\n"
            % (title, title, title, paras)).encode("utf-8")


def warc_record(kind, uri, payload, n):
    head = ("WARC/1.0\r\nWARC-Type: %s\r\nWARC-Target-URI: %s\r\n"
            "WARC-Date: 2005-03-01T12:00:00Z\r\nWARC-Record-ID: <urn:uuid:%08d-0000-0000-0000-%012d>\r\n"
            "Content-Type: application/http; msgtype=%s\r\nContent-Length: %d\r\n\r\n"
            % (kind, uri, n, 0 if kind == "request" else 1, kind, len(payload))).encode()
    return gzip.compress(head + payload + b"\r\n\r\n", compresslevel=6, mtime=0)


def main():
    corpus, out = sys.argv[1], sys.argv[2]
    pages = os.path.join(out, "html")
    os.makedirs(pages, exist_ok=True)
    names = []
    with open(os.path.join(out, "html.warc.gz"), "wb") as warc:
        for n, doc in enumerate(read_corpus(corpus)):
            body = page(doc)
            name = "%s.html" % doc["id"]
            with open(os.path.join(pages, name), "wb") as f:
                f.write(body)
            names.append(name)
            uri = "https://news.example/%s" % doc["id"]
            req = ("GET /%s HTTP/1.1\r\nHost: news.example\r\n\r\n" % doc["id"]).encode()
            resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)) + body
            warc.write(warc_record("request", uri, req, n))
            warc.write(warc_record("response", uri, resp, n))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(names):
            tar.add(os.path.join(pages, name), arcname="html/" + name)
    subprocess.run(["zstd", "-q", "-f", "-o", os.path.join(out, "html.tar.zst")],
                   input=buf.getvalue(), check=True)


if __name__ == "__main__":
    main()
