"""Pre-existing records a run adopts (persons by e-mail, organizations by name): what each held before we
wrote to it, kept in the manifest before the write, so that rollback can put every key back exactly.

A key that was empty before and that Pipedrive's API cannot empty again (a person's `org_id`: an id
has no empty value in the spec) is not written to an adopted record: writing it would leave a value
no rollback can remove. It is reported instead, and stays empty.
"""

from __future__ import annotations

import threading

from target_pipedrive.api_shapes import NO_EMPTY, empty_value, is_empty
from target_pipedrive.client import PipedriveClient
from target_pipedrive.ledger import Manifest


def merge_prior(into: dict, prior: dict) -> dict:
    """Add the keys of `prior` that `into` does not hold yet: the earliest value of each key is the one before
    any write of ours (custom fields key by key)."""
    for key, value in prior.items():
        if key == "custom_fields":
            custom = into.setdefault("custom_fields", {})
            for code, custom_value in (value or {}).items():
                custom.setdefault(code, custom_value)
        else:
            into.setdefault(key, value)
    return into


def prior_values(record: dict, body: dict) -> dict:
    """What `record` (as Pipedrive returns it) holds under the keys `body` is about to write."""
    prior = {k: record.get(k) for k in body if k != "custom_fields"}
    if "custom_fields" in body:
        current = record.get("custom_fields") or {}
        prior["custom_fields"] = {k: current.get(k) for k in body["custom_fields"]}
    return prior


class AdoptedRecords:
    """Prior values of adopted records: read from the manifest once, added to it before every new write."""

    def __init__(self, client: PipedriveClient, manifest: Manifest, run_id: str) -> None:
        self.client = client
        self.manifest = manifest
        self.run_id = run_id
        self._priors: dict[tuple[str, int], dict] | None = None
        self._lock = threading.Lock()

    def adopt(self, stream: str, existing: dict, payload: dict) -> tuple[dict, list[str]]:
        """Record what `existing` holds under the payload's keys; return the body to send and the keys held back."""
        self._remember(stream, int(existing["id"]), prior_values(existing, payload))
        return self._without_unrestorable(stream, int(existing["id"]), payload)

    def update(self, stream: str, pipedrive_id: int, patch: dict, current: dict | None = None) -> tuple[dict, list[str]]:
        """A later change to an adopted record: keys never written before get their current values recorded
        first (`current`, as the delta read it, else one read of the record); returns the patch to send and the
        keys held back."""
        known = self._known().get((stream, pipedrive_id), {})
        custom = patch.get("custom_fields") or {}
        new_keys = [k for k in patch if k != "custom_fields" and k not in known]
        new_codes = [c for c in custom if c not in (known.get("custom_fields") or {})]
        if new_keys or new_codes:
            if current is None:
                current = self.client.get(f"/{stream}/{pipedrive_id}").get("data") or {}
            wanted = {k: patch[k] for k in new_keys}
            if new_codes:
                wanted["custom_fields"] = {c: custom[c] for c in new_codes}
            self._remember(stream, pipedrive_id, prior_values(current, wanted))
        return self._without_unrestorable(stream, pipedrive_id, patch)

    def _without_unrestorable(self, stream: str, pipedrive_id: int, body: dict) -> tuple[dict, list[str]]:
        prior = self._known().get((stream, pipedrive_id), {})
        held = sorted(k for k in body if k != "custom_fields" and empty_value(stream, k) is NO_EMPTY
                      and k in prior and is_empty(prior[k]))
        return {k: v for k, v in body.items() if k not in held}, held

    def _remember(self, stream: str, pipedrive_id: int, prior: dict) -> None:
        """Manifest first (fsynced): a write whose prior values are not on disk never goes out."""
        self.manifest.append({"op": "update", "type": stream, "id": pipedrive_id, "run_id": self.run_id,
                              "prior": prior})
        known = self._known()
        with self._lock:
            merge_prior(known.setdefault((stream, pipedrive_id), {}), prior)

    def _known(self) -> dict[tuple[str, int], dict]:
        with self._lock:
            if self._priors is None:
                self._priors = {}
                for entry in self.manifest.entries():
                    if entry.get("op") == "update":
                        merge_prior(self._priors.setdefault((entry["type"], int(entry["id"])), {}), entry["prior"])
            return self._priors
