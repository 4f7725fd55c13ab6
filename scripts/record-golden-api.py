#!/usr/bin/env python3
"""Record MediaWiki's answers to the golden query list (see crates/api/tests/golden/).

usage: scripts/record-golden-api.py BASE_URL QUERIES OUT
       e.g. scripts/record-golden-api.py http://127.0.0.1:8090 \
            crates/api/tests/golden/generated-queries.txt crates/api/tests/golden/generated-answers.txt
"""
import json
import sys
import urllib.parse
import urllib.request

base, queries, out = sys.argv[1:4]
lines = []
for q in open(queries, encoding="utf-8"):
    q = q.rstrip("\n")
    if not q or q.startswith("#"):
        continue
    params = urllib.parse.parse_qsl(q, keep_blank_values=True)
    params = [("action", "query"), ("format", "json")] + params
    for _ in range(6):
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        with urllib.request.urlopen(base + "/api.php?" + query) as r:
            body = r.read().decode("utf-8")
        lines.append("> " + query)
        lines.append(body)
        if body.startswith("/**/"):  # JSONP: not followed
            break
        cont = json.loads(body).get("continue")
        if not cont:
            break
        params = [p for p in params if p[0] not in cont] + list(cont.items())
with open(out, "w", encoding="utf-8") as f:
    f.write("# MediaWiki 1.39.17's answers to generated-queries.txt (scripts/record-golden-api.py).\n")
    f.write("\n".join(lines) + "\n")
print(len(lines) // 2, "answers")
