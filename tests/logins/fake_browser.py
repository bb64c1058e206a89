"""A tiny "browser" for $BROWSER: load the authorize URL, follow the provider's redirect once."""

from __future__ import annotations

import sys

import httpx

with httpx.Client(follow_redirects=False, timeout=10) as client:
    resp = client.get(sys.argv[1])
    if resp.status_code in (301, 302, 303, 307):
        client.get(resp.headers["Location"])
