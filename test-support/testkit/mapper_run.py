"""Run the mapper in-process on Singer messages built from PracticeHub records."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

from map_practicehub_pipedrive.mapper import PracticeHubToPipedrive
from map_practicehub_pipedrive.mapping import confirm, default_mapping, dump

from testkit.practice import TAP_ORDER


def singer_lines(records: dict[str, list[dict]], state_every: int = 0) -> list[str]:
    """Messages as the tap emits them: streams in dependency order, a STATE at each stream's end."""
    lines = []
    order = [s for s in TAP_ORDER if s in records] + sorted(set(records) - set(TAP_ORDER))
    for stream in order:
        lines.append(json.dumps({"type": "SCHEMA", "stream": stream, "schema": {"type": "object"},
                                 "key_properties": ["id"]}))
        for number, record in enumerate(records[stream], 1):
            lines.append(json.dumps({"type": "RECORD", "stream": stream, "record": record}))
            if state_every and number % state_every == 0:
                lines.append(json.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"n": number}}}}))
        lines.append(json.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"done": True}}}}))
    return lines


def as_tap_emits(records: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Add what tap-practicehub adds to `files` records after downloading the bytes (see tap-practicehub/tap_practicehub/attachments.py)."""
    for record in records.get("files", []):
        record.setdefault("local_path", f"/tmp/practicehub-files/{record['id']}-{record.get('file_name')}")
        record.setdefault("downloaded_size", record.get("size"))
        record.setdefault("sha256", f"{record['id']:064x}"[-64:])
        record.setdefault("download_error", None)
    return records


def write_mapping(folder: Path, data: dict | None = None, confirmed: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mapping.yml"
    path.write_text(dump(data or default_mapping()), "utf-8")
    if confirmed:
        confirm(path, by="tester")
    return path


class Output:
    """The mapper's stdout, split by message type and stream."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.messages = [json.loads(line) for line in text.splitlines()]
        self.records: dict[str, list[dict]] = {}
        self.schemas: dict[str, dict] = {}
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records.setdefault(message["stream"], []).append(message["record"])
            elif message["type"] == "SCHEMA":
                self.schemas[message["stream"]] = message
        self.states = [m for m in self.messages if m["type"] == "STATE"]

    def by_id(self, stream: str) -> dict[str, dict]:
        """The last record sent for each source_id (the target upserts)."""
        return {record["source_id"]: record for record in self.records.get(stream, [])}

    def skipped(self) -> dict[str, str]:
        return {record["source_id"]: record["reason"] for record in self.records.get("skipped", [])}

    def degraded(self) -> dict[tuple[str, str], str]:
        """(source id, field) → reason of every degraded value."""
        return {(record["source_id"], record["field"]): record["reason"]
                for record in self.records.get("degraded", [])}


def run_mapper(config: dict, lines: list[str]) -> Output:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        mapper = PracticeHubToPipedrive(config=config)
        mapper.listen(io.StringIO("\n".join(lines) + "\n"))
    return Output(buffer.getvalue())


def base_config(tmp_path: Path, **extra: object) -> dict:
    config = {"mapping_file": str(extra.pop("mapping_file", None) or write_mapping(tmp_path)),
              "phi_policy": "include", "baa_reference": "BAA-2024-001", "reports_dir": str(tmp_path / "reports"),
              "source_timezone": "Australia/Sydney", "currency": "AUD"}
    config.update(extra)
    return config


def fresh_copy(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(path, folder / path.name))
