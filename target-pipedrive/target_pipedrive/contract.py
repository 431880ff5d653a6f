"""The load's contract with the mapper: which streams exist, in which order they land, which keys every entity
record carries, and why a record may be skipped.

Everything else in the engine reads these names from here; this module imports nothing of the target.
"""

from __future__ import annotations

# Parents before children: a record is written only once the records it refers to have landed.
DEPENDENCY_ORDER = ["organizations", "persons", "deals", "activities", "notes", "files"]

# Properties every entity record carries that the engine consumes itself (never reported as ignored).
COMMON_KEYS = {"source_id", "owner_email", "owner_name", "owner_source_id", "custom_fields"}
# Payload keys used to send a record but not part of what it is (a file's path on this machine, its type):
# left out of the ledger's content hash and of the delta.
UNHASHED_KEYS = {"local_path", "mime_type"}

# Every reason a record goes to the skip file (skipped.jsonl, origin `target`), and what it means.
SKIP_REASONS = {
    "missing_source_id": "the record has no source_id, so it could not be written exactly once",
    "phi_guard": "the mapper's PHI marks forbid writing it",
    "missing_parent": "a record it hangs on never landed",
    "rejected": "Pipedrive refused the write (the HTTP status and Pipedrive's error are kept)",
    "unknown_pipeline": "its pipeline is not declared in x-pipedrive-pipelines",
    "unknown_stage": "its stage is not declared in x-pipedrive-pipelines",
    "no_parent": "a note or file needs a deal, person or organization",
    "empty_content": "a note without content",
    "file_missing": "the extracted file is not at local_path",
    "size_mismatch": "the extracted file's size differs from the record's",
    "sha256_mismatch": "the extracted file's content differs from the record's checksum",
    "file_changed": "an uploaded file cannot be replaced in place",
    "deleted_in_pipedrive": "deleted in Pipedrive after it landed: not written again",
}


def sent_part(payload: dict) -> dict:
    """What the ledger keeps of a payload (and hashes): everything but the local-only keys."""
    return {k: v for k, v in payload.items() if k not in UNHASHED_KEYS}


class SkipRecord(Exception):
    """The record cannot be written as it is: goes to the skip file with `reason` (a key of SKIP_REASONS)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
