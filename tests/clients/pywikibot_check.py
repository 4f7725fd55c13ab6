"""Drives the real pywikibot (from PyPI) against a running `inlink serve`.

usage: python pywikibot_check.py HOST:PORT

Same wiki as mwclient_check.py. pywikibot sends POST requests, mixes formatversion 1 and 2,
asks action=paraminfo, and follows redirects in Page.backlinks() by default.
"""
import os
import sys
import tempfile

host = sys.argv[1]
os.environ["PYWIKIBOT_NO_USER_CONFIG"] = "2"
os.environ["PYWIKIBOT_DIR"] = tempfile.mkdtemp(prefix="pwb-")  # no cached siteinfo/paraminfo

import pywikibot  # noqa: E402
from pywikibot import config  # noqa: E402

config.family_files["inlink"] = "http://%s/w/api.php" % host
config.put_throttle = 0
config.maxlag = 0
site = pywikibot.Site("inlink", "inlink")


def titles(it):
    return [p.title() for p in it]


hub = pywikibot.Page(site, "Hub")
assert hub.exists(), "Hub exists"
got = titles(hub.backlinks(follow_redirects=False))
assert got == ["HR2", "D1", "HR1", "Talk:HR3", "D2", "Talk:D3"], got
got = titles(hub.backlinks(follow_redirects=False, namespaces=[1]))
assert got == ["Talk:HR3", "Talk:D3"], got
got = titles(hub.backlinks(follow_redirects=False, filter_redirects=True))
assert got == ["HR2", "HR1", "Talk:HR3"], got
# The default follows redirects: pages linking through HR1/HR2/Talk:HR3 come too. pywikibot
# chains the direct and the redirected links without merging them, so D2 (which links Hub
# and HR1) comes twice, as it does against MediaWiki.
got = sorted(titles(hub.backlinks()))
want = sorted(["HR2", "D1", "HR1", "Talk:HR3", "D2", "D2", "Talk:D3", "Y1", "Y2", "Y3", "X1", "X2", "X3", "X4", "Talk:Z2", "Z1"])
assert got == want, got
big = titles(pywikibot.Page(site, "Big hub").backlinks(follow_redirects=False))
assert big == ["Big %d" % i for i in range(1200)], (len(big), big[:3])
got = titles(pywikibot.Page(site, "Über/Sub").backlinks(follow_redirects=False))
assert got == ["Zürich", "東京"], got
refs = sorted(titles(hub.getReferences(follow_redirects=False)))
assert refs == ["D1", "D2", "Talk:D3"], refs
print("pywikibot %s: all checks passed" % pywikibot.__version__)
