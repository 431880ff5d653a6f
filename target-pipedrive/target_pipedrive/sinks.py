"""One sink per Pipedrive entity: how a contract record becomes a request, and how it is found again.

The sinks hand their batches to the shared `Loader`, which owns ordering, the ledger and retries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_pipedrive.api_shapes import address
from target_pipedrive.note_html import same_note_html
from target_pipedrive.validation import ContractCheckedSink

if TYPE_CHECKING:
    from target_pipedrive.loader import Loader

# Properties every entity record carries that the sinks consume themselves.
COMMON_KEYS = {"source_id", "owner_email", "owner_name", "owner_source_id", "custom_fields"}


class SkipRecord(Exception):
    """The record cannot be written as it is: goes to the skip file with `reason`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _plain(value: Any) -> Any:
    """JSON-native values: the SDK hands numbers over as Decimal and date-times as datetime."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dt.date):
        return _iso(value)
    return value


def _without_nones(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if v is not None and v != {} and v != []}


class PipedriveSink(ContractCheckedSink, BatchSink):
    """Base sink: entity name, endpoint and parent references; the loader does the writing."""

    entity: str = ""
    endpoint: str = ""
    api_version = "v2"
    # Small batches: records reach the loader soon after they arrive, so loading overlaps extraction
    # (the loader queues each batch's writes and returns; `batch_size_rows` overrides this).
    MAX_SIZE_DEFAULT = 200
    # record key → parent stream, resolved through the ledger before the record is written.
    parent_refs: dict[str, str] = {}
    used_keys: set[str] = set()

    def __init__(self, target, *args, **kwargs) -> None:
        self._target = target  # the SDK keeps no reference; the loader lives on the target
        super().__init__(target, *args, **kwargs)
        self.schema = target.contract.prepare_schema(self.stream_name, self.schema)  # + settings' declarations

    @property
    def loader(self) -> Loader:
        return self._target.loader

    def setup(self) -> None:
        self.loader.register(self)

    def process_record(self, record: dict, context: dict) -> None:
        record = self._target.contract.admit(self, _plain(record))
        if record is None:
            return  # it breaks the input contract: skipped with its reasons (validation.py)
        self.note_received()
        context.setdefault("records", []).append(record)

    def note_received(self) -> None:
        self.loader.note_received(self.stream_name)

    def process_batch(self, context: dict) -> None:
        self._draining = True
        try:
            self._drain_parents_first()
            self.loader.load(self, context.get("records", []))
        finally:
            self._draining = False

    def _drain_parents_first(self) -> None:
        """Hand the loader the parents still buffered in other sinks (a stream's first few records never fill a
        batch), and records of sinks a new SCHEMA retired, so children do not wait for the end of the input."""
        target = self._target
        for sink in list(target._sinks_to_clear):  # noqa: SLF001 - the SDK exposes no other view of its sinks
            if sink.current_size and not getattr(sink, "_draining", False):
                target.drain_one(sink)
        if self.stream_name not in DEPENDENCY_ORDER:
            return
        for stream in DEPENDENCY_ORDER[: DEPENDENCY_ORDER.index(self.stream_name)]:
            sink = target._sinks_active.get(stream)  # noqa: SLF001
            if sink is not None and sink.current_size and not getattr(sink, "_draining", False):
                target.drain_one(sink)

    # ---- building requests ----------------------------------------------------------------------

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def owner_fields(self, record: dict) -> dict:
        return {"owner_id": self.loader.owners.resolve(record, self.stream_name)}

    def custom_fields(self, record: dict) -> dict:
        return self.loader.custom_field_values(self.stream_name, record)

    def ignored_keys(self, record: dict) -> list[str]:
        """Properties this sink does not send (reported by name, never silently)."""
        return sorted(k for k, v in record.items() if v is not None and k not in COMMON_KEYS | self.used_keys)

    def ignored_detail(self, key: str) -> str:
        return "Pipedrive has no field for this property"

    # ---- talking to Pipedrive -------------------------------------------------------------------

    def create(self, payload: dict) -> int:
        body = self.loader.client.request("POST", f"/{self.endpoint}", json=payload, version=self.api_version)
        return int(body["data"]["id"])

    def update(self, pipedrive_id: int, payload: dict) -> None:
        method = "PATCH" if self.api_version == "v2" else "PUT"
        self.loader.client.request(method, f"/{self.endpoint}/{pipedrive_id}", json=payload, version=self.api_version)

    def find_candidates(self, record: dict, payload: dict) -> list[int]:
        """Pipedrive ids of records that may be this one, created by a write whose answer was lost.

        The loader adopts the first that no other source record owns."""
        found = self.loader.find_by_source_id(self.stream_name, record["source_id"])
        return [found] if found is not None else []

    def lookalike_key(self, payload: dict) -> tuple | None:
        """What two different records would share if they looked alike here: their creates and lookups take
        turns. None where a record is found by its own source-ID field, so no look-alike is possible."""
        return None


class OrganizationsSink(PipedriveSink):
    entity = "organization"
    endpoint = "organizations"
    used_keys = {"name", "address", "website", "industry"}

    def ignored_detail(self, key: str) -> str:
        if key in ("phone", "email"):
            return (f"v2 organizations have no {key} field: the value is not written until the transform sends"
                    " it as a custom field")
        return super().ignored_detail(key)

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:
        return _without_nones(
            {
                "name": record.get("name"),
                **self.owner_fields(record),
                "address": address(record.get("address")),
                "website": record.get("website"),
                "industry": self.loader.industry_option(record.get("industry")),
                "custom_fields": self.custom_fields(record),
            }
        )


class PersonsSink(PipedriveSink):
    entity = "person"
    endpoint = "persons"
    parent_refs = {"org_source_id": "organizations"}
    used_keys = {"name", "emails", "phones", "postal_address", "org_source_id", "first_name", "last_name",
                 "merged_source_ids", "birthday"}

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:
        payload = {
            "name": record.get("name") or " ".join(filter(None, [record.get("first_name"), record.get("last_name")])),
            **self.owner_fields(record),
            "org_id": parents.get("org_source_id"),
            "emails": [_without_nones(e) for e in record.get("emails") or [] if e.get("value")],
            "phones": [_without_nones(p) for p in record.get("phones") or [] if p.get("value")],
            "postal_address": address(record.get("postal_address")),
            "custom_fields": self.custom_fields(record),
        }
        if record.get("birthday"):
            self.loader.place_birthday(payload, _iso(record["birthday"]))
        return _without_nones(payload)


class DealsSink(PipedriveSink):
    entity = "deal"
    endpoint = "deals"
    parent_refs = {"org_source_id": "organizations", "person_source_id": "persons"}
    used_keys = {"title", "value", "currency", "pipeline", "stage", "status", "lost_reason",
                 "expected_close_date", "close_time", "won_time", "lost_time", "org_source_id",
                 "person_source_id"}

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:
        pipeline_id, stage_id = self.loader.stage_ids(record.get("pipeline"), record.get("stage"))
        status = record.get("status") or "open"
        closed = status in ("won", "lost")
        return _without_nones(
            {
                "title": record.get("title"),
                **self.owner_fields(record),
                "person_id": parents.get("person_source_id"),
                "org_id": parents.get("org_source_id"),
                "pipeline_id": pipeline_id,
                "stage_id": stage_id,
                "value": record.get("value"),
                "currency": record.get("currency") or self.config.get("currency"),
                "status": status,
                "lost_reason": record.get("lost_reason") if status == "lost" else None,
                "expected_close_date": _iso(record.get("expected_close_date")),
                "close_time": _iso(record.get("close_time")) if closed else None,
                "won_time": _iso(record.get("won_time")) if status == "won" else None,
                "lost_time": _iso(record.get("lost_time")) if status == "lost" else None,
                "custom_fields": self.custom_fields(record),
            }
        )


class ActivitiesSink(PipedriveSink):
    entity = "activity"
    endpoint = "activities"
    parent_refs = {"org_source_id": "organizations", "person_source_id": "persons", "deal_source_id": "deals"}
    used_keys = {"subject", "type", "due_date", "due_time", "duration", "done", "note", "org_source_id",
                 "person_source_id", "deal_source_id"}

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:
        person_id = parents.get("person_source_id")
        return _without_nones(
            {
                "subject": record.get("subject"),
                "type": record.get("type") or "task",
                **self.owner_fields(record),
                "deal_id": parents.get("deal_source_id"),
                "org_id": parents.get("org_source_id"),
                "participants": [{"person_id": person_id, "primary": True}] if person_id else None,
                "due_date": _iso(record.get("due_date")),
                "due_time": record.get("due_time"),
                "duration": record.get("duration"),
                "done": record.get("done"),
                "note": record.get("note"),
            }
        )

    def find_candidates(self, record: dict, payload: dict) -> list[int]:
        # Activity fields are read-only in v2, so there is no source-ID field: match every field we sent that
        # comes back, among the parent's activities.
        params = self._parent_filter(payload)
        if not params:
            return []
        wanted = self._compared(payload)
        return [int(item["id"]) for item in self.loader.client.list_all("/activities", params=params)
                if self._compared(item) == wanted and bool(item.get("done")) == bool(payload.get("done"))]

    def lookalike_key(self, payload: dict) -> tuple:
        return (tuple(sorted(self._parent_filter(payload).items())), *self._compared(payload))

    @staticmethod
    def _parent_filter(payload: dict) -> dict:
        params = {k: payload[k] for k in ("deal_id", "org_id") if payload.get(k)}
        if not params and payload.get("participants"):
            params = {"person_id": payload["participants"][0]["person_id"]}
        return params

    @staticmethod
    def _compared(activity: dict) -> tuple:
        due_time = activity.get("due_time")
        return (activity.get("subject"), activity.get("type"), activity.get("due_date"),
                str(due_time)[:5] if due_time else None)


def _attach_target(parents: dict[str, int]) -> dict:
    for key, name in (("deal_source_id", "deal_id"), ("person_source_id", "person_id"), ("org_source_id", "org_id")):
        if parents.get(key):
            return {name: parents[key]}
    return {}


def _attached_to(payload: dict) -> dict:
    """The parent a note's or file's payload is attached to, as {"deal_id": 7} (one key)."""
    return {k: payload[k] for k in ("deal_id", "person_id", "org_id") if k in payload}


def _note_time(note: dict) -> str:
    return str(note.get("add_time", ""))[:19]


class NotesSink(PipedriveSink):
    entity = "note"
    endpoint = "notes"
    api_version = "v1"
    parent_refs = {"org_source_id": "organizations", "person_source_id": "persons", "deal_source_id": "deals"}
    used_keys = {"content", "add_time", "pinned", "org_source_id", "person_source_id", "deal_source_id"}

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:
        attach = _attach_target(parents)
        if not attach:
            raise SkipRecord("no_parent", "a note needs a deal, person or organization")
        if not record.get("content"):
            raise SkipRecord("empty_content")
        add_time = _iso(record.get("add_time"))
        if isinstance(add_time, str):
            add_time = add_time.replace("T", " ").removesuffix("Z")[:19]
        payload = {"content": record["content"], "add_time": add_time, **attach}
        if record.get("pinned"):
            flag = {"deal_id": "deal", "person_id": "person", "org_id": "organization"}[next(iter(attach))]
            payload[f"pinned_to_{flag}_flag"] = 1
        return _without_nones(payload)

    def find_candidates(self, record: dict, payload: dict) -> list[int]:
        notes = self.loader.client.list_all("/notes", version="v1", params=_attached_to(payload))
        return [int(item["id"]) for item in notes
                if _note_time(item) == _note_time(payload) and same_note_html(payload.get("content"), item.get("content"))]

    def lookalike_key(self, payload: dict) -> tuple:
        return (*_attached_to(payload).items(), _note_time(payload))


class FilesSink(PipedriveSink):
    entity = "file"
    endpoint = "files"
    api_version = "v1"
    parent_refs = {"org_source_id": "organizations", "person_source_id": "persons", "deal_source_id": "deals"}
    used_keys = {"file_name", "mime_type", "size", "sha256", "local_path", "org_source_id", "person_source_id",
                 "deal_source_id"}

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:
        attach = _attach_target(parents)
        if not attach:
            raise SkipRecord("no_parent", "a file needs a deal, person or organization")
        path = record.get("local_path")
        if not path or not os.path.isfile(path):
            raise SkipRecord("file_missing", "local_path does not exist")
        size = os.path.getsize(path)
        if record.get("size") is not None and int(record["size"]) != size:
            raise SkipRecord("size_mismatch", f"expected {record['size']} bytes, found {size}")
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if record.get("sha256") and record["sha256"].lower() != digest.hexdigest():
            raise SkipRecord("sha256_mismatch", "file content differs from the extracted checksum")
        name = record.get("file_name") or os.path.basename(path)
        return {"file_name": name, "size": size, "sha256": digest.hexdigest(), "mime_type": record.get("mime_type"),
                "local_path": path, **attach}

    def create(self, payload: dict) -> int:
        data = {k: str(v) for k, v in _attached_to(payload).items()}
        mime = payload.get("mime_type") or "application/octet-stream"
        with open(payload["local_path"], "rb") as handle:
            files = {"file": (payload["file_name"], handle, mime)}
            body = self.loader.client.request("POST", "/files", version="v1", files=files, data=data)
        return int(body["data"]["id"])

    def update(self, pipedrive_id: int, payload: dict) -> None:
        raise SkipRecord("file_changed", "an uploaded file cannot be replaced in place; delete it and re-run")

    def find_candidates(self, record: dict, payload: dict) -> list[int]:
        parent = _attached_to(payload).items()
        return [int(item["id"]) for item in self._parent_files(payload)
                if item.get("name") == payload["file_name"] and all(item.get(k) == v for k, v in parent)
                and item.get("file_size") is not None and int(item["file_size"]) == payload["size"]]

    def lookalike_key(self, payload: dict) -> tuple:
        return (*_attached_to(payload).items(), payload["file_name"], payload["size"])

    def _parent_files(self, payload: dict) -> list[dict]:
        """The files attached to the payload's parent: one `GET /v1/{deals|persons|organizations}/{id}/files`
        walk (100 a page, the spec's maximum) instead of every file of the account."""
        key, parent_id = next(iter(_attached_to(payload).items()))
        entity = {"deal_id": "deals", "person_id": "persons", "org_id": "organizations"}[key]
        return self.loader.client.list_all(f"/{entity}/{parent_id}/files", version="v1")


class SkippedSink(PipedriveSink):
    """The mapper's own skip list: appended to the skip file with origin `transform`."""

    def process_batch(self, context: dict) -> None:
        self.loader.record_transform_skips(context.get("records", []))


class DegradedSink(PipedriveSink):
    """The mapper's field-level degradations: appended to degraded.jsonl (the record itself landed)."""

    def process_batch(self, context: dict) -> None:
        self.loader.record_degradations(context.get("records", []))


SINKS: dict[str, type[PipedriveSink]] = {
    "organizations": OrganizationsSink,
    "persons": PersonsSink,
    "deals": DealsSink,
    "activities": ActivitiesSink,
    "notes": NotesSink,
    "files": FilesSink,
    "skipped": SkippedSink,
    "degraded": DegradedSink,
}
DEPENDENCY_ORDER = ["organizations", "persons", "deals", "activities", "notes", "files"]
