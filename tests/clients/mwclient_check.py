"""Drives the real mwclient (from PyPI) against a running `inlink serve`.

usage: python mwclient_check.py HOST:PORT

The wiki is the one `crates/cli/tests/clients.rs` generates: the "Hub" fixture of the
MediaWiki spec (§15), 1,200 pages linking to "Big hub", and non-ASCII titles. Every
assertion names the exact titles MediaWiki would return.
"""
import sys

import mwclient

host = sys.argv[1]
site = mwclient.Site(host, path="/w/", scheme="http")
assert site.initialized, "site info was read"

hub = site.pages["Hub"]
assert hub.exists and hub.name == "Hub", hub


def titles(it):
    return [p if isinstance(p, str) else p.name for p in it]


# List mode: page-id order, namespaces interleaved.
got = titles(hub.backlinks(generator=False))
assert got == ["HR2", "D1", "HR1", "Talk:HR3", "D2", "Talk:D3"], got
# Generator mode (mwclient's default): same pages, as Page objects.
got = titles(hub.backlinks())
assert got == ["HR2", "D1", "HR1", "Talk:HR3", "D2", "Talk:D3"], got
# Namespace filter and redirect filter.
got = titles(hub.backlinks(namespace=1, generator=False))
assert got == ["Talk:HR3", "Talk:D3"], got
got = titles(hub.backlinks(filterredir="redirects", generator=False))
assert got == ["HR2", "HR1", "Talk:HR3"], got
got = titles(hub.backlinks(filterredir="nonredirects"))
assert got == ["D1", "D2", "Talk:D3"], got
# Redirects expanded (generator mode feeds both levels, each page once).
got = sorted(titles(hub.backlinks(redirect=True)))
assert got == sorted(["HR2", "D1", "HR1", "Talk:HR3", "D2", "Talk:D3", "Y1", "Y2", "Y3", "X1", "X2", "X3", "X4", "Talk:Z2", "Z1"]), got
# Continuation over more than a thousand results, in small chunks.
big = titles(site.pages["Big hub"].backlinks(generator=False, api_chunk_size=250))
assert big == ["Big %d" % i for i in range(1200)], (len(big), big[:3], big[-3:])
big = titles(site.pages["Big hub"].backlinks(api_chunk_size=500))
assert len(big) == 1200 and len(set(big)) == 1200, len(big)
# Non-ASCII titles, both ways.
got = titles(site.pages["Über/Sub"].backlinks(generator=False))
assert got == ["Zürich", "東京"], got
got = titles(site.pages["Zürich"].backlinks(generator=False))
assert got == ["Über/Sub"], got
print("mwclient %s: all checks passed" % mwclient.__version__)
