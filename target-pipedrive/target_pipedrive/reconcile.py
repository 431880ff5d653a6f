"""Verify against the source: PracticeHub re-read through the confirmed mapping, compared with Pipedrive now.

`meltano run reconcile` runs the tap and the mapper again (state read, never written) into this target
with `reconcile: true`: nothing is written to Pipedrive. Each expected entity is looked up through the
ledger, read back from Pipedrive and compared in the mapper's terms (labels, names and source ids, read
back from Pipedrive's ids), so a value the target dropped or Pipedrive did not keep is a difference, and
a source record that never landed is one too. Each PracticeHub record ends in one category:

- `exact`: every entity made from it holds what the source says;
- `degraded`: it landed, and the mapper's listed degradations (values kept as entered, truncated, ...)
  explain every difference;
- `merged`: a patient folded into another person by de-duplication;
- `changed_in_pipedrive`: it landed, and the differences are the team's: the record changed in Pipedrive
  after our last write (`landing.py`), and the delta leaves the team's edits (listed, not a failure);
- `deleted_in_source`: it landed, then was deleted in PracticeHub: marked deleted (skipped by the mapper), or
  gone from the API (absent from this full re-read, the only way to notice it: one request per 100 records).
  Listed with what it has in Pipedrive and what `on_source_delete` did; one gone from the API is written to
  `source_deletions.jsonl` for the next load to apply the policy (this pass writes nothing to Pipedrive).
  Many absent at once (over a tenth of a stream) are differences instead: the re-read missed them;
- `not_landed_accepted`: it cannot exist in Pipedrive (deleted in PracticeHub, orphaned, PHI left out);
- `different` / `not_landed`: unexplained; the command exits non-zero.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from target_pipedrive import source_deletions
from target_pipedrive.api_shapes import id_of
from target_pipedrive.client import PipedriveClient
from target_pipedrive.landing import changed_since_landing
from target_pipedrive.ledger import JsonLines, Ledger
from target_pipedrive.note_html import same_note_html
from target_pipedrive.report import write_private
from target_pipedrive.settings import Settings, build_client
from target_pipedrive.source_deletions import LandedIndex, source_record_of, summary_of
from target_pipedrive.team_work import ENTITY_STREAMS
from target_pipedrive.verify import V2_STREAMS, read_back, values_match

# Skip reasons for records that cannot exist in Pipedrive: not a loss.
# `not_assigned`: a Patient Library asset shared with no patient has no person to hang on in Pipedrive.
ACCEPTED_SKIPS = {"deleted_in_source", "patient_missing", "parent_skipped", "phi_excluded",
                  "stream_skipped_by_mapping", "unmapped_stream", "not_sampled", "not_assigned"}
PARENTS = {"org_source_id": ("org_id", "organizations"), "person_source_id": ("person_id", "persons"),
           "deal_source_id": ("deal_id", "deals")}
COMPARED = {
    "organizations": ("name", "address", "website"),
    "persons": ("name", "emails", "phones", "postal_address", "birthday"),
    "deals": ("title", "value", "currency", "status", "pipeline", "stage", "expected_close_date", "lost_reason"),
    "activities": ("subject", "type", "due_date", "due_time", "done", "note"),
    "notes": ("content",),
    "files": ("file_name", "size"),
}
EXIT_DIFFERENT = 1
GONE_AT_ONCE, GONE_SHARE = 5, 0.1  # more records absent at once than this is the re-read's doing, not deletions
CATEGORIES = ("exact", "merged", "degraded", "changed_in_pipedrive", "deleted_in_source", "not_landed_accepted",
              "different", "not_landed")  # from best to worst: a record takes the worst of its entities'
# The mapper's names for what the ledger keeps under Pipedrive's keys (a field the team owns is named so there).
PIPEDRIVE_KEYS = {"pipeline": "pipeline_id", "stage": "stage_id", "org_source_id": "org_id",
                  "person_source_id": "person_id", "deal_source_id": "deal_id"}


class SourceCheck:
    def __init__(self, settings: Settings, client: PipedriveClient | None = None) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        self.ledger = Ledger(settings.state_dir / "ledger.sqlite")
        self.expected: dict[str, dict[str, dict]] = defaultdict(dict)
        self.skipped: dict[str, dict] = {}
        self.degraded: dict[str, list[dict]] = defaultdict(list)

    # ---- input ----------------------------------------------------------------------------------

    def add(self, stream: str, record: dict) -> None:
        if stream in ENTITY_STREAMS:
            self.expected[stream][record["source_id"]] = record  # the last one sent wins (the target upserts)
        elif stream == "skipped":
            self.skipped[record["source_id"]] = record
        elif stream == "degraded":
            self.degraded[record["source_id"]].append(record)

    # ---- reading Pipedrive back in the mapper's terms -----------------------------------------

    def _fields(self) -> dict[str, dict[str, dict]]:
        path = self.settings.state_dir / "field_map.json"
        rows = json.loads(path.read_text()) if path.exists() else []
        by_stream: dict[str, dict[str, dict]] = defaultdict(dict)
        for row in rows:
            if row.get("key"):
                options = row.get("options")
                options = json.loads(options) if isinstance(options, str) else options or {}
                by_stream[_stream_of(row["entity"])][row["logical_name"]] = {
                    **row, "labels": {str(option_id): label for label, option_id in options.items()}}
        return by_stream

    def _pipeline_names(self) -> tuple[dict[int, str], dict[int, str]]:
        pipelines = {int(item["id"]): item["name"] for item in self.client.list_all("/pipelines")}
        stages = {int(item["id"]): item["name"] for item in self.client.list_all("/stages")}
        return pipelines, stages

    def _actual(self, landed: dict[str, dict[str, int]]) -> dict[str, dict[int, dict]]:
        actual: dict[str, dict[int, dict]] = {}
        for stream in ENTITY_STREAMS:
            ids = sorted(pipedrive_id for source_id, pipedrive_id in landed[stream].items()
                         if source_id in self.expected.get(stream, {}))
            if not ids:
                actual[stream] = {}
            elif stream in V2_STREAMS:
                actual[stream] = read_back(self.client, stream, ids)
            else:
                wanted = set(ids)
                actual[stream] = {int(item["id"]): item for item in self.client.list_all(f"/{stream}", version="v1")
                                  if int(item["id"]) in wanted}
        return actual

    # ---- comparing ------------------------------------------------------------------------------

    def run(self) -> dict:
        fields = self._fields()
        pipelines, stages = self._pipeline_names() if self.expected.get("deals") else ({}, {})
        rows = {stream: {row["source_id"]: row for row in self.ledger.done_rows(stream)} for stream in ENTITY_STREAMS}
        landed = {stream: {sid: row["pipedrive_id"] for sid, row in by_id.items()} for stream, by_id in rows.items()}
        source_of = {stream: {pid: sid for sid, pid in ids.items()} for stream, ids in landed.items()}
        actual = self._actual(landed)
        previous_skips = _latest_skips(self.settings.state_dir / "skipped.jsonl")
        differences: list[dict] = []
        outcome: dict[str, str] = {}  # source record → worst category so far
        reasons: dict[str, str] = {}

        def mark(record_id: str, category: str, reason: str | None = None) -> None:
            order = CATEGORIES
            if record_id not in outcome or order.index(category) > order.index(outcome[record_id]):
                outcome[record_id] = category
                if reason:
                    reasons[record_id] = reason

        for stream in ENTITY_STREAMS:
            for source_id, expected in self.expected.get(stream, {}).items():
                record_id = source_record_of(source_id)
                pipedrive_id = landed[stream].get(source_id)
                item = actual[stream].get(pipedrive_id) if pipedrive_id is not None else None
                if item is None:
                    why = previous_skips.get(source_id) or ("deleted in Pipedrive" if pipedrive_id else
                                                           "never loaded (new since the last run?)")
                    differences.append({"source_id": record_id, "entity": stream, "entity_source_id": source_id,
                                        "field": "*", "reason": why, "expected": "record", "actual": None})
                    mark(record_id, "not_landed", why)
                    continue
                # The expected entity already carries the mapper's degradations (a value kept as entered, a
                # generated name): any difference left is a value lost or changed on the way.
                unexplained = self._compare(stream, expected, item, fields.get(stream, {}), source_of, pipelines,
                                            stages)
                row = rows[stream][source_id]
                theirs = [d for d in unexplained if self._team_changed(row, item, d["field"], fields.get(stream, {}))]
                for diff in unexplained:
                    reason = "changed in Pipedrive after landing" if diff in theirs else "value differs"
                    differences.append({"source_id": record_id, "entity": stream, "entity_source_id": source_id,
                                        "reason": reason, **diff})
                mark(record_id, "different" if len(theirs) < len(unexplained) else
                     "changed_in_pipedrive" if theirs else "exact")
                for merged in expected.get("merged_source_ids") or []:
                    mark(str(merged), "merged")
        for record_id in self.degraded:
            if outcome.get(record_id) == "exact":
                outcome[record_id] = "degraded"
        index = LandedIndex(self.ledger)
        deletions, suspect = self._deleted_in_source(index, outcome)
        for row in deletions:
            mark(row["source_id"], "deleted_in_source", row["how"])
        for row in suspect:
            why = (f"absent from this re-read with {row['absent'] - 1} others of {row['landed']} landed: not taken as"
                   " deleted in PracticeHub (check the tap's start_date and catalog)")
            differences.append({"source_id": row["source_id"], "entity": "*", "field": "*", "reason": why,
                                "expected": None, "actual": "record"})
            mark(row["source_id"], "different", why)
        for source_id, skip in self.skipped.items():
            if source_id in outcome and outcome[source_id] == "deleted_in_source":
                continue
            if skip.get("reason") in ACCEPTED_SKIPS:
                mark(source_id, "not_landed_accepted", skip.get("reason"))
            else:
                differences.append({"source_id": source_id, "entity": skip.get("source_stream"), "field": "*",
                                    "reason": skip.get("reason"), "expected": "record", "actual": None})
                mark(source_id, "not_landed", skip.get("reason"))
        result = self._summary(outcome, reasons, differences)
        result["deleted_in_source"] = deletions
        return result

    def _team_changed(self, row: dict, item: dict, field: str, fields: dict) -> bool:
        if changed_since_landing(row, item):
            return True
        if field.startswith("custom_fields."):
            info = fields.get(field.split(".", 1)[1]) or {}
            field = f"custom_fields.{info.get('key')}"
        return PIPEDRIVE_KEYS.get(field, field) in (row.get("team") or {})

    def _deleted_in_source(self, index: LandedIndex, outcome: dict[str, str]) -> tuple[list[dict], list[dict]]:
        """Landed records deleted in PracticeHub since: skipped as marked deleted, or absent from this re-read.

        Absent records are taken as deleted outright only while they are few: more than a tenth of a stream's
        landed records (and more than a handful) absent at once says the re-read missed them (a changed
        `start_date`, a stream deselected), not that the practice deleted them: those are differences."""
        seen = set(outcome) | set(self.skipped)
        streams_read = {record_id.split(":", 1)[0] for record_id in seen}
        known = source_deletions.latest(self.settings.state_dir / source_deletions.FILE_NAME)
        rows: list[dict] = []
        absent: dict[str, list[str]] = defaultdict(list)
        for record_id in sorted(set(index.by_record)):
            skip = self.skipped.get(record_id)
            if skip is not None and skip.get("reason") == "deleted_in_source":
                how = "marked_deleted"
            elif record_id not in seen and record_id.split(":", 1)[0] in streams_read:
                absent[record_id.split(":", 1)[0]].append(record_id)  # a stream not read at all is no evidence
                continue
            else:
                continue
            rows.append(self._deletion_row(index, known, record_id, how))
        suspect: list[dict] = []
        for stream, record_ids in absent.items():
            landed = sum(1 for record_id in index.by_record if record_id.split(":", 1)[0] == stream)
            if len(record_ids) > max(GONE_AT_ONCE, GONE_SHARE * landed):
                suspect.extend({"source_id": record_id, "absent": len(record_ids), "landed": landed}
                               for record_id in record_ids)
                continue
            rows.extend(self._deletion_row(index, known, record_id, "gone_from_api") for record_id in record_ids)
            source_deletions.note_gone(self.settings.state_dir, "reconcile", record_ids)
        return sorted(rows, key=lambda row: row["source_id"]), suspect

    @staticmethod
    def _deletion_row(index: LandedIndex, known: dict, record_id: str, how: str) -> dict:
        action = (known.get(record_id) or {}).get("action") or ("noticed" if how == "gone_from_api" else "none yet")
        return {"source_id": record_id, "how": how, "in_pipedrive": summary_of(index.of(record_id)), "action": action}

    def _compare(self, stream: str, expected: dict, item: dict, fields: dict, source_of: dict,
                 pipelines: dict, stages: dict) -> list[dict]:
        diffs = []
        for key in COMPARED[stream]:
            want = expected.get(key)
            have = _read(stream, key, item, pipelines, stages)
            if not _same(stream, key, want, have, item):
                diffs.append({"field": key, "expected": want, "actual": have})
        for key, (pipedrive_key, parent) in PARENTS.items():
            if key not in expected:
                continue
            if stream in ("notes", "files") and key != _attached_parent(expected):
                continue  # notes and files hang on one parent: the deal, else the person, else the organization
            have = source_of[parent].get(id_of(item.get(pipedrive_key)))
            want = expected.get(key)
            if (want or None) != (have or None):
                diffs.append({"field": key, "expected": want, "actual": have})
        current = item.get("custom_fields") or {}
        for logical, want in (expected.get("custom_fields") or {}).items():
            info = fields.get(logical)
            if info is None:
                continue  # not a Pipedrive custom field here (activities, notes and files have none)
            have = _custom(info, current.get(info["key"]), source_of)
            if not _same_custom(info, want, have):
                diffs.append({"field": f"custom_fields.{logical}", "expected": want, "actual": have})
        return diffs

    # ---- results --------------------------------------------------------------------------------

    def _summary(self, outcome: dict[str, str], reasons: dict[str, str], differences: list[dict]) -> dict:
        streams: dict[str, Counter] = defaultdict(Counter)
        not_landed: dict[str, Counter] = defaultdict(Counter)
        degraded_fields: dict[str, Counter] = defaultdict(Counter)
        for record_id, category in outcome.items():
            stream = record_id.split(":", 1)[0]
            streams[stream][category] += 1
            streams[stream]["records"] += 1
            if category in ("not_landed", "not_landed_accepted"):
                not_landed[stream][reasons.get(record_id, "unknown")] += 1
        for record_id, entries in self.degraded.items():
            for entry in entries:
                degraded_fields[record_id.split(":", 1)[0]][f"{entry['field']}: {entry['reason']}"] += 1
        unexplained = sum(row["different"] + row["not_landed"] for row in streams.values())
        return {
            "ok": unexplained == 0,
            "unexplained": unexplained,
            "streams": {stream: {"records": row["records"], **{key: row[key] for key in CATEGORIES},
                "not_landed_reasons": dict(sorted(not_landed[stream].items())),
                "degraded_fields": dict(sorted(degraded_fields[stream].items()))}
                for stream, row in sorted(streams.items())},
            "differences": differences,
            "api_calls": self.client.stats.calls,
        }

    def write(self, result: dict) -> tuple[Path, Path]:
        state_dir = self.settings.state_dir
        csv_path = state_dir / "reconcile_differences.csv"
        columns = ["source_id", "entity", "entity_source_id", "field", "reason", "expected", "actual"]
        rows = [{**diff, "expected": json.dumps(diff.get("expected"), default=str),
                 "actual": json.dumps(diff.get("actual"), default=str)} for diff in result["differences"]]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        write_private(csv_path, buffer.getvalue())  # expected and actual values: patient data, 0600
        summary = state_dir / "reconcile.json"
        # The summary names streams, fields and reasons only: no values (they may be patient data).
        body = {key: value for key, value in result.items() if key != "differences"}
        body["difference_fields"] = dict(Counter(f"{d['entity']}.{d['field']}" for d in result["differences"]))
        write_private(summary, json.dumps(body, indent=2, sort_keys=True) + "\n")
        return csv_path, summary


def _stream_of(entity: str) -> str:
    return {"organization": "organizations", "person": "persons", "deal": "deals", "activity": "activities",
            "note": "notes", "file": "files"}.get(entity, entity)


def _attached_parent(expected: dict) -> str | None:
    return next((key for key in ("deal_source_id", "person_source_id", "org_source_id") if expected.get(key)), None)


def _read(stream: str, key: str, item: dict, pipelines: dict, stages: dict) -> Any:
    if stream == "deals" and key == "pipeline":
        return pipelines.get(id_of(item.get("pipeline_id")))
    if stream == "deals" and key == "stage":
        return stages.get(id_of(item.get("stage_id")))
    if stream == "files" and key == "file_name":
        return item.get("name") or item.get("file_name")
    if stream == "files" and key == "size":
        return item.get("file_size")
    if stream == "persons" and key == "birthday":
        return item.get("birthday")
    return item.get(key)


def _same(stream: str, key: str, want: Any, have: Any, item: dict) -> bool:
    if want in (None, "", []):
        return have in (None, "", [], {}) or key in ("currency", "type", "size")
    if key in ("emails", "phones"):
        return sorted(str(e.get("value")).strip().lower() for e in want) == sorted(
            str(e.get("value")).strip().lower() for e in have or [] if e.get("value"))
    if key in ("address", "postal_address"):
        return _same_address(want, have)
    if key == "birthday" and have in (None, ""):
        return any(str(value) == str(want)[:10] for value in (item.get("custom_fields") or {}).values())
    if key in ("content", "note"):
        return same_note_html(want, have)
    if key == "due_time" and isinstance(have, str):
        return have[:5] == str(want)[:5]
    return values_match(want, have)


def _same_address(want: Any, have: Any) -> bool:
    """Every part the source gave is kept: the full text, and the parts Pipedrive stores separately."""
    want = want if isinstance(want, dict) else {"value": want}
    have = have if isinstance(have, dict) else {"value": have}
    for part in ("value", "locality", "postal_code", "country"):
        if want.get(part) and not values_match(want[part], have.get(part)):
            return False
    street = want.get("street")
    if street:
        stored = have.get("street") or " ".join(
            str(have[key]) for key in ("street_number", "route") if have.get(key)) or None
        if stored is not None:
            return str(stored) in str(street)
        return str(street) in str(have.get("value") or "")  # kept in the full text
    return True


def _custom(info: dict, value: Any, source_of: dict) -> Any:
    kind = info.get("field_type")
    if value is None:
        return None
    if kind == "enum":
        return info["labels"].get(str(id_of(value)), value)
    if kind == "set":
        items = value if isinstance(value, list) else str(value).split(",")
        return sorted(info["labels"].get(str(id_of(item)), item) for item in items)
    if kind in ("org", "people"):
        return {"source_id": source_of["organizations" if kind == "org" else "persons"].get(id_of(value))}
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _same_custom(info: dict, want: Any, have: Any) -> bool:
    if want in (None, "", []):
        return have in (None, "", [])
    if info.get("field_type") == "set":
        return sorted(str(item) for item in want) == [str(item) for item in have or []]
    if info.get("field_type") in ("org", "people") and isinstance(want, dict):
        if want.get("source_id"):
            return want["source_id"] == (have or {}).get("source_id")
        return True  # a link by name "where one exists": none is right when no organization has the name
    return values_match(want, have)


def _latest_skips(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {entry.get("source_id"): entry.get("reason") for entry in JsonLines(path).entries()
            if entry.get("origin") == "target"}


def report(result: dict, csv_path: Path, summary: Path) -> int:
    print(f"reconcile {'OK' if result['ok'] else 'DIFFERENT'}: {result['unexplained']} PracticeHub records "
          f"unexplained, {result['api_calls']} API calls", file=sys.stderr)
    for stream, row in result["streams"].items():
        print(f"  {stream}: {row['records']} records: {row['exact']} exact, {row['degraded']} degraded, "
              f"{row['merged']} merged, {row['changed_in_pipedrive']} changed in Pipedrive after landing, "
              f"{row['deleted_in_source']} deleted in PracticeHub after landing, "
              f"{row['not_landed_accepted']} not landed (cannot exist in Pipedrive), "
              f"{row['different']} different, {row['not_landed']} not landed", file=sys.stderr)
    for row in result.get("deleted_in_source") or []:
        print(f"  deleted in PracticeHub ({row['how']}): {row['source_id']}, in Pipedrive {row['in_pipedrive']},"
              f" on_source_delete: {row['action']}", file=sys.stderr)
    print(f"  differences: {csv_path}\n  summary: {summary}", file=sys.stderr)
    return 0 if result["ok"] else EXIT_DIFFERENT
