#!/usr/bin/env python3
"""Key the link tables dumped from the MediaWiki oracle by title (see
crates/import/tests/golden/mediawiki-1.39/README.md).

usage: scripts/record-golden-tables.py TSV_DIR OUT_DIR
"""
import csv
import os
import sys

src, dst = sys.argv[1], sys.argv[2]


def rows(name):
    with open(os.path.join(src, name)) as fh:
        r = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return r[1:]


title = {p[0]: (p[1], p[2]) for p in rows("page.tsv")}
installer = {k for k, v in title.items() if v == ("0", "Main_Page")}
tables = {
    "page.tsv": lambda r: [r[1], r[2], r[3]],
    "pagelinks.tsv": lambda r: [*title[r[0]], r[2], r[3]],
    "templatelinks.tsv": lambda r: [*title[r[0]], r[2], r[3]],
    "imagelinks.tsv": lambda r: [*title[r[0]], "6", r[2]],
    "redirect.tsv": lambda r: [*title[r[0]], r[1], r[2], r[3], r[4]],
}
os.makedirs(dst, exist_ok=True)
for name, key in tables.items():
    lines = sorted({"\t".join(key(r)) for r in rows(name) if r[0] not in installer})
    with open(os.path.join(dst, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(name, len(lines))
