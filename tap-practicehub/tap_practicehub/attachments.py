"""Attachment download: the bytes behind a file record's pre-signed URL, saved locally with their SHA-256."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path

import requests

CHUNK_BYTES = 1 << 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(file_id: int, file_name: str | None) -> str:
    """``<id>-<name>`` with anything unsafe replaced, so names cannot escape ``files_dir`` or collide."""
    cleaned = _UNSAFE.sub("_", file_name or "").strip("._") or "file"
    return f"{file_id}-{cleaned[:150]}"


def download_attachment(
    record: dict,
    files_dir: Path,
    *,
    timeout: float,
    attempts: int,
    logger: logging.Logger,
    session: requests.Session | None = None,
    label: str = "files",
) -> dict:
    """Fill ``local_path``, ``downloaded_size`` and ``sha256`` (or ``download_error``) on a ``files`` record
    (or any record with ``id``, ``file_name`` and a signed ``url``: Patient Library assets; ``label`` names it).

    The URL is pre-signed (S3-style): it is fetched with NO PracticeHub headers, so the API key never
    leaves for another host. It is never logged either: its signature is a credential while it lives.
    """
    url = record.get("url")
    file_id = record.get("id")
    if not url:
        record["download_error"] = "no url in the record"
        return record
    target = files_dir / safe_file_name(file_id, record.get("file_name"))
    partial = target.with_name(target.name + ".part")
    http = session or requests
    error = None
    for attempt in range(attempts):
        try:
            with http.get(url, stream=True, timeout=timeout) as response:
                if response.status_code != 200:
                    error = f"HTTP {response.status_code} fetching the signed URL"
                    if response.status_code < 500:
                        break  # expired or refused: retrying the same link cannot help
                else:
                    digest = hashlib.sha256()
                    size = 0
                    # attachments are patient data: readable by the migration's user only
                    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                        for chunk in response.iter_content(CHUNK_BYTES):
                            out.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                    partial.replace(target)
                    record.update(local_path=str(target), downloaded_size=size, sha256=digest.hexdigest())
                    record["download_error"] = None
                    return record
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            error = type(exc).__name__
        time.sleep(min(8.0, 0.25 * 2**attempt))
    partial.unlink(missing_ok=True)
    logger.warning("%s: the bytes of id %s were not downloaded: %s", label, file_id, error)
    record.update(local_path=None, downloaded_size=None, sha256=None, download_error=error)
    return record
