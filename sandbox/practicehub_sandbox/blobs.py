"""Attachment bytes behind short-lived signed URLs, like S3 pre-signed links (no API headers needed)."""

from __future__ import annotations

import hashlib
import hmac
import time

# Leading bytes that make each kind of file look like what its mime type says.
_MAGIC = {
    "application/pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "application/zip": b"PK\x03\x04",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK\x03\x04",
    "text/plain": b"",
}

DEFAULT_MIME_TYPE = "application/octet-stream"
# Resources whose records carry a signed `url` to their bytes; each has its own /_blobs/ path.
BLOB_RESOURCES = ("files", "patient_library")


def blob_key(resource: str, record_id: int) -> int | str:
    """The name a blob is signed and served under: `<id>` for attachments, `patient_library/<id>` for assets."""
    return record_id if resource == "files" else f"{resource}/{record_id}"


class BlobSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def signature(self, file_id: int | str, expires: int) -> str:
        message = f"{file_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, root_url: str, file_id: int | str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_seconds)
        return f"{root_url}/_blobs/{file_id}?expires={expires}&signature={self.signature(file_id, expires)}"

    def check(self, file_id: int | str, expires: str | None, signature: str | None) -> str | None:
        """None when the link is valid, else the S3-style error code."""
        if not expires or not signature or not expires.isdigit():
            return "AccessDenied"
        if not hmac.compare_digest(self.signature(file_id, int(expires)), signature):
            return "SignatureDoesNotMatch"
        if int(expires) < time.time():
            return "AccessDenied"
        return None


def blob_bytes(seed: int, file_id: int | str, size: int, mime_type: str | None) -> bytes:
    """Deterministic content of ``size`` bytes for one file, starting like a real file of its type."""
    if mime_type and mime_type.startswith("text/"):
        line = f"Synthetic attachment {file_id} (sandbox data, seed {seed}).\n".encode()
        return (line * (size // len(line) + 1))[:size]
    magic = _MAGIC.get(mime_type or "", b"")[:size]
    body = hashlib.shake_256(f"blob:{seed}:{file_id}".encode()).digest(max(0, size - len(magic)))
    return magic + body


def s3_error(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
