"""Attachment links serve any file name, as S3 does (RFC 6266 filename* for non-Latin-1 names)."""

from urllib.parse import unquote

import requests


def test_non_latin1_file_name_downloads(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(dataset="tiny")
    record = min(sandbox.dataset["files"], key=lambda row: row["id"])
    sandbox.patch_record("files", record["id"], {"file_name": "скан 診断 ✓.pdf"})
    listed = requests.get(f"{sandbox.base_url}/files/{record['id']}", headers=sandbox.headers, timeout=10).json()
    blob = requests.get(listed["url"], timeout=10)
    assert blob.status_code == 200
    disposition = blob.headers["Content-Disposition"]
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "скан 診断 ✓.pdf"
