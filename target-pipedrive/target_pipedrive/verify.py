"""Verify: read back every landed entity with as few list calls as possible and diff each sent field.

Each difference is classified (`landing.py`): changed in Pipedrive after landing (the team's edit: reported,
not a failure) or landed wrong (the record was not touched since our write: a failure, exit 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from target_pipedrive.api_shapes import is_empty, kept
from target_pipedrive.client import PipedriveClient
from target_pipedrive.landing import CHANGED_IN_PIPEDRIVE, LANDED_WRONG, classify
from target_pipedrive.ledger import Ledger
from target_pipedrive.note_html import same_note_html
from target_pipedrive.report import write_private
from target_pipedrive.settings import Settings, build_client

V2_STREAMS = ["organizations", "persons", "deals", "activities"]
IDS_PER_CALL = 100  # v2 `ids=` takes up to 100 ids
SCAN_FROM = 300  # from here on, 500-a-page list walks cost fewer calls than `ids=` batches
NOT_COMPARED = {"participants", "sha256", "size", "file_name"}


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if "T" in text or ":" in text and len(text) > 10:
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.UTC)
                return parsed.astimezone(dt.UTC).isoformat()
        except ValueError:
            pass
        return text
    return value


def values_match(sent: Any, actual: Any) -> bool:
    """Tolerant of Pipedrive's shapes: objects with `value`, extra keys, list order, number types; an
    emptied value ("", [], an empty address) is read back as null."""
    if is_empty(sent) or is_empty(actual):
        return is_empty(sent) and is_empty(actual)
    if isinstance(sent, dict):
        if not isinstance(actual, dict):
            return "value" in sent and values_match(sent["value"], actual)
        return all(values_match(v, actual.get(k)) for k, v in sent.items() if v is not None)
    if isinstance(actual, dict) and "value" in actual and not isinstance(sent, dict):
        return values_match(sent, actual["value"])
    if isinstance(actual, dict) and "id" in actual:
        return values_match(sent, actual["id"])
    if isinstance(sent, list):
        if not isinstance(actual, list) or len(sent) != len(actual):
            return False
        remaining = list(actual)
        for item in sent:
            hit = next((i for i, a in enumerate(remaining) if values_match(item, a)), None)
            if hit is None:
                return False
            remaining.pop(hit)
        return True
    if isinstance(sent, bool) or isinstance(actual, bool):
        return bool(sent) == bool(actual)
    return _normalise(sent) == _normalise(actual)


def field_diffs(stream: str, row: dict, actual: dict | None, not_kept: set[str] | None = None) -> list[dict]:
    """Differences between what was sent and what Pipedrive holds, for the keys Pipedrive keeps (the spec's
    keys, nested parts included); keys it would drop are added to `not_kept`, not compared."""
    base = {"entity": stream, "source_id": row["source_id"], "pipedrive_id": row["pipedrive_id"]}
    if actual is None:
        return [{**base, "field": "*", "sent": "record", "actual": "missing"}]
    compared, dropped = kept(stream, row["sent"])
    if not_kept is not None:
        not_kept.update(f"{stream}.{name}" for name in dropped)
    diffs = []
    for key, sent in compared.items():
        if key in NOT_COMPARED or key.startswith("pinned_to_"):
            continue
        if key == "custom_fields":
            current = actual.get("custom_fields") or {}
            for code, value in sent.items():
                if not values_match(value, current.get(code)):
                    diffs.append({**base, "field": f"custom_fields.{code}", "sent": value, "actual": current.get(code)})
            continue
        if stream == "notes" and key == "content":
            if not same_note_html(sent, actual.get(key)):
                diffs.append({**base, "field": key, "sent": sent, "actual": actual.get(key)})
            continue
        if not values_match(sent, actual.get(key)):
            diffs.append({**base, "field": key, "sent": sent, "actual": actual.get(key)})
    return diffs


def read_by_ids(client: PipedriveClient, stream: str, ids: list[int]) -> dict[int, dict]:
    """`ids=` lists, 100 ids a call (v2). Archived deals are not in `GET /deals`: those missing are looked for
    in `GET /deals/archived` (a deal archived by `on_source_delete: archive`, or by the team)."""
    found = _by_ids(client, f"/{stream}", ids)
    if stream == "deals":
        found.update(_by_ids(client, "/deals/archived", [i for i in ids if i not in found]))
    return found


def _by_ids(client: PipedriveClient, path: str, ids: list[int]) -> dict[int, dict]:
    wanted = set(ids)
    found: dict[int, dict] = {}
    for start in range(0, len(ids), IDS_PER_CALL):
        chunk = ",".join(str(i) for i in ids[start : start + IDS_PER_CALL])
        body = client.get(path, params={"ids": chunk, "limit": IDS_PER_CALL})
        found.update({item["id"]: item for item in body.get("data") or [] if item["id"] in wanted})
    return found


def read_back(client: PipedriveClient, stream: str, ids: list[int]) -> dict[int, dict]:
    """Few ids: `ids=` lists (100 a call). Many: walk the id-sorted list (500 a call) up to our highest id."""
    if not ids:
        return {}
    if len(ids) < SCAN_FROM:
        return read_by_ids(client, stream, ids)
    wanted = set(ids)
    found: dict[int, dict] = {}
    params = {"limit": 500, "sort_by": "id", "sort_direction": "asc"}
    highest = max(ids)
    while True:
        body = client.get(f"/{stream}", params=params)
        items = body.get("data") or []
        found.update({item["id"]: item for item in items if item["id"] in wanted})
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor or not items or items[-1]["id"] >= highest:
            break
        params["cursor"] = cursor
    if stream == "deals":
        found.update(_by_ids(client, "/deals/archived", [i for i in ids if i not in found]))
    return found


class Verifier:
    def __init__(self, settings: Settings, client: PipedriveClient | None = None) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        self.ledger = Ledger(settings.state_dir / "ledger.sqlite")
        self.labels = self._field_labels()

    def _field_labels(self) -> dict[str, str]:
        path = self.settings.state_dir / "field_map.json"
        if not path.exists():
            return {}
        return {row["key"]: f"{row['logical_name']} ({row['label']})" for row in json.loads(path.read_text()) if row["key"]}

    def run(self) -> dict:
        diffs: list[dict] = []
        checked: dict[str, int] = {}
        not_kept: set[str] = set()
        for stream in [*V2_STREAMS, "notes", "files"]:
            rows = self.ledger.done_rows(stream)
            checked[stream] = len(rows)
            if not rows:
                continue
            if stream in V2_STREAMS:
                found = read_back(self.client, stream, [r["pipedrive_id"] for r in rows])
            else:
                found = {item["id"]: item for item in self.client.list_all(f"/{stream}", version="v1")}
            for row in rows:
                actual = found.get(row["pipedrive_id"])
                for diff in field_diffs(stream, row, actual, not_kept):
                    # A field the team changed in Pipedrive after landing is theirs: reported, not a failure.
                    diffs.append({**diff, "classification": classify(row, actual, diff["field"])})
        for diff in diffs:
            if diff["field"].startswith("custom_fields."):
                diff["field_label"] = self.labels.get(diff["field"].split(".", 1)[1], "")
        total = sum(checked.values())
        wrong = [d for d in diffs if d["classification"] == LANDED_WRONG]
        changed = [d for d in diffs if d["classification"] == CHANGED_IN_PIPEDRIVE]
        return {
            "ok": not wrong,
            "checked": checked,
            "entities_checked": total,
            "mismatches": len(wrong),
            "mismatched_fields": sorted({d["field"] for d in wrong}),
            "changed_in_pipedrive": len(changed),
            "changed_in_pipedrive_fields": sorted({f"{d['entity']}.{d['field']}" for d in changed}),
            "changed_in_pipedrive_records": len({(d["entity"], d["pipedrive_id"]) for d in changed}),
            "not_kept_fields": sorted(not_kept),
            "api_calls": self.client.stats.calls,
            "calls_per_1000": round(self.client.stats.calls * 1000 / total, 2) if total else 0,
            "diffs": diffs,
        }

    def write(self, result: dict) -> tuple[Path, Path]:
        state_dir = self.settings.state_dir
        csv_path = state_dir / "verify_diff.csv"
        columns = ["entity", "source_id", "pipedrive_id", "field", "field_label", "classification", "sent", "actual"]
        with open(csv_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for diff in result["diffs"]:
                writer.writerow({**diff, "sent": json.dumps(diff["sent"]), "actual": json.dumps(diff["actual"])})
        csv_path.chmod(0o600)
        summary = state_dir / "verify_summary.json"
        write_private(summary, json.dumps({k: v for k, v in result.items() if k != "diffs"}, indent=2) + "\n")
        return csv_path, summary


def run_verify(settings: Settings) -> int:
    verifier = Verifier(settings)
    result = verifier.run()
    csv_path, summary = verifier.write(result)
    print(
        f"verify {'OK' if result['ok'] else 'MISMATCH'}: {result['entities_checked']} entities,"
        f" {result['mismatches']} field differences (landed wrong), {result['changed_in_pipedrive']} changed in"
        f" Pipedrive after landing, {result['api_calls']} API calls",
        file=sys.stderr,
    )
    for field in result["mismatched_fields"]:
        print(f"  mismatched field: {field}", file=sys.stderr)
    for field in result["changed_in_pipedrive_fields"]:
        print(f"  changed in Pipedrive after landing (the team's edit: reported, not a failure): {field}",
              file=sys.stderr)
    for field in result["not_kept_fields"]:
        print(f"  sent but not kept by Pipedrive (not in its API's schema), not compared: {field}", file=sys.stderr)
    print(f"  diff: {csv_path}\n  summary: {summary}", file=sys.stderr)
    return 0 if result["ok"] else 1
