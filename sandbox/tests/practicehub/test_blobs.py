"""Signed attachment URLs: valid bytes without API headers, expired and tampered links refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from .helpers import all_rows


def _file(sandbox, **criteria):
    files = all_rows(sandbox, "files")
    return next(f for f in files if all(f[k] == v for k, v in criteria.items()))


def test_valid_link_returns_the_bytes_without_auth(practicehub_sandbox):
    record = _file(practicehub_sandbox, mime_type="application/pdf")
    assert record["url"].startswith(f"{practicehub_sandbox.root_url}/_blobs/{record['id']}?expires=")
    response = requests.get(record["url"], timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/pdf")
    assert len(response.content) == record["size"]
    assert response.content.startswith(b"%PDF")
    again = requests.get(_file(practicehub_sandbox, id=record["id"])["url"], timeout=10)
    assert again.content == response.content
    stats = practicehub_sandbox.stats()
    assert stats["blob_requests"] == 2
    assert stats["requests"] == 2, "blob fetches are not API requests"


def test_link_expires_after_url_ttl(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(url_ttl=1)
    record = all_rows(sandbox, "files")[0]
    expires = int(parse_qs(urlsplit(record["url"]).query)["expires"][0])
    assert expires - time.time() <= 1.5
    time.sleep(max(0.0, expires - time.time()) + 1.1)
    response = requests.get(record["url"], timeout=10)
    assert response.status_code == 403
    assert b"<Code>AccessDenied</Code>" in response.content


def test_tampered_links_are_refused(practicehub_sandbox):
    record = all_rows(practicehub_sandbox, "files")[0]
    parts = urlsplit(record["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{practicehub_sandbox.root_url}{parts.path}"
    later = {**query, "expires": str(int(query["expires"]) + 3600)}
    bad_signature = {**query, "signature": "0" * 64}
    for params in (later, bad_signature, {}):
        response = requests.get(f"{base}?{urlencode(params)}", timeout=10)
        assert response.status_code == 403, params
    other_id = all_rows(practicehub_sandbox, "files")[1]["id"]
    response = requests.get(f"{practicehub_sandbox.root_url}/_blobs/{other_id}?{parts.query}", timeout=10)
    assert response.status_code == 403


def test_blob_fetches_are_not_rate_limited(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(rate=0.2, burst=1)
    record = all_rows(sandbox, "files")[0]
    assert all(requests.get(record["url"], timeout=10).status_code == 200 for _ in range(5))
