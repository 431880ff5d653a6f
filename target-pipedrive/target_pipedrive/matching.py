"""Records already in the account that no run of ours created (`match_existing`): an organization is the one
with its name, a person the one with its email that is the same person under the mapper's rule
(`x-pipedrive-identity`, identity.py). A match is adopted and updated instead of created (write_protocol.py).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from target_pipedrive import identity
from target_pipedrive.client import PipedriveClient
from target_pipedrive.ledger import Ledger
from target_pipedrive.report import RunReport
from target_pipedrive.schema_setup import BIRTHDAY_SYSTEM_KEY, SchemaSetup
from target_pipedrive.write_protocol import Claims

# Natural keys used to adopt records that already exist in the account (not created by us).
MATCHERS = {"persons": "email", "organizations": "name"}


class ExistingRecords:
    """The account's own records by natural key, read once per stream on first use."""

    def __init__(self, client: PipedriveClient, ledger: Ledger, schema: SchemaSetup, report: RunReport,
                 claims: Claims, match_existing: list[str]) -> None:
        self.client = client
        self.ledger = ledger
        self.schema = schema
        self.report = report
        self.claims = claims
        self.match_existing = match_existing
        self.identity_rule: Any = identity.DEFAULT_MATCH_ON
        self._lock = threading.Lock()
        self._index: dict[str, dict[str, list[dict]]] = {}

    def declare(self, stream: str, schema: dict) -> None:
        """A stream's SCHEMA message: the persons' `x-pipedrive-identity` says when two persons are the same."""
        if stream != "persons":
            return
        declared = (schema.get("x-pipedrive-identity") or {}).get("match_on")
        rule = identity.canonical_rule(declared) if declared is not None else identity.DEFAULT_MATCH_ON
        self.identity_rule = identity.DEFAULT_MATCH_ON if rule is None else rule

    def find(self, stream: str, record: dict, payload: dict) -> dict | None:
        """The account record this one is, made by no run of ours."""
        if stream not in self.match_existing or stream not in MATCHERS:
            return None
        with self._lock:
            if stream not in self._index:
                self._index[stream] = self._read_index(stream)
        index = self._index[stream]
        if stream == "persons":
            return self._same_person(record, payload, index)
        found = index.get(str(payload.get("name", "")).strip().lower())
        return found[0] if found else None

    def _same_person(self, record: dict, payload: dict, index: dict[str, list[dict]]) -> dict | None:
        """An account person with this email adopted only if it is the same person: a family member sharing
        the address is not. Each account person with the email that is not adopted is reported, by id and
        field names only."""
        rule = self.identity_rule
        source_id, born = str(record.get("source_id")), record.get("birthday")
        compared: set[int] = set()
        for email in payload.get("emails") or []:
            mine = identity.fingerprint(email.get("value"), payload.get("name"), born)
            for item in index.get(identity.email_key(email.get("value")) or "", ()):
                if item["id"] in compared:
                    continue
                compared.add(item["id"])
                theirs = identity.fingerprint(email.get("value"), item.get("name"), self._account_birthday(item))
                verdict = identity.compare(mine, theirs, rule)
                if verdict.same and self.claims.claim("persons", item["id"], source_id):
                    self.report.adoption("adopted", source_id, item["id"], verdict)
                    return item
                note = ("already adopted by another record" if verdict.same
                        else "de-duplication is off in the mapping: never adopted" if not rule
                        else "" if verdict.differs_on else f"no {', '.join(verdict.not_compared)} to compare")
                self.report.adoption("not_adopted", source_id, item["id"], verdict, note)
        return None

    def _account_birthday(self, item: dict) -> Any:
        key = self.schema.birthday_key
        if key == BIRTHDAY_SYSTEM_KEY or not key:
            return item.get("birthday")
        return (item.get("custom_fields") or {}).get(key)

    def _read_index(self, stream: str) -> dict[str, list[dict]]:
        """Records in the account that no run of ours created, by natural key: email digest or lower-case name."""
        ours = {pipedrive_id for _, pipedrive_id in self.ledger.landed_keys((stream,))}
        index: dict[str, list[dict]] = defaultdict(list)
        for item in self.client.list_all(f"/{stream}"):
            if item["id"] in ours:
                continue
            if stream == "persons":
                for key in dict.fromkeys(identity.email_key(e.get("value")) for e in item.get("emails") or []):
                    if key:
                        index[key].append(item)
            elif item.get("name"):
                index[str(item["name"]).strip().lower()].append(item)
        return dict(index)
