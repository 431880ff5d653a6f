"""The PracticeHub side of a migration audit: what is there, and how long extracting it will take.

One request per resource (its first page: ``total_entries`` and up to ``page_size`` records), one per
appointment status, and the lists of appointment types and patient custom fields (every page); all through
the tap's own paced client. Besides the report it writes what the mapper's ``propose`` reads when present:
``patient_custom_fields.json`` (the definitions, read in full) and ``profile-sample.jsonl`` (the records of
those first pages, for value profiling: patient data, so owner-only), at no extra request.
The tap's paced client also learns from these requests whether several keys share one account limit:
the estimate uses what it learned.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from tap_practicehub.privacy import private_outputs
from tap_practicehub.settings import ASSUMED_RESOURCES
from tap_practicehub.tap import TapPracticeHub

APPOINTMENT_STATUSES = ("pending", "arrived", "processed", "missed", "cancelled")
DEFINITIONS_FILE = "patient_custom_fields.json"
PROFILE_FILE = "profile-sample.jsonl"
NOT_PROFILED = ("url",)  # a pre-signed link to a file's bytes: a short-lived credential, not a value to profile


def _read_all(api, resource: str, page_size: int) -> list[dict]:
    rows: dict[int, dict] = {}
    page = api.get(resource, {"page_size": page_size})
    while True:
        rows.update({row["id"]: row for row in page.rows})
        if not page.next_url:
            return [rows[key] for key in sorted(rows)]
        page = api.get(page.next_url)


def run_audit(config: dict) -> dict:
    tap = TapPracticeHub(config=config, validate_config=True)
    api = tap.api
    page_size = int(config.get("page_size", 100))
    profile: dict[str, dict] = {}  # stream → id → record: the first pages, read for their counts anyway
    try:
        resources = {}
        for stream in tap.discover_streams():
            page = api.get(stream.name, {"page_size": page_size})
            resources[stream.name] = page.total_entries
            _keep(profile, stream.name, page.rows)
        statuses = {}
        for status in APPOINTMENT_STATUSES:
            page = api.get("appointments", {"page_size": page_size, "status": f"eq:{status}"})
            if any(row.get("status") != status for row in page.rows):
                raise RuntimeError("PracticeHub ignored the appointments status filter: counts by status unknown")
            statuses[status] = page.total_entries
            _keep(profile, "appointments", page.rows)  # every status profiled, however rare
        appointment_types = sorted({row.get("name") or "" for row in _read_all(api, "appointment_types", page_size)})
        definitions = _read_all(api, "patient_custom_fields", page_size)
        custom_fields = [{key: row.get(key) for key in ("name", "label", "field_type", "phi")} for row in definitions]
        requests_used = api.stats.requests
    finally:
        api.close()

    pages = sum(max(1, math.ceil(total / page_size)) for total in resources.values())
    scope = api.rate_scope
    rate = scope.requests_per_second
    return {
        "practicehub": {
            "records": resources,
            "records_total": sum(resources.values()),
            "appointment_statuses": statuses,
            "appointment_types": appointment_types,
            "patient_custom_fields": custom_fields,
        },
        "extraction_estimate": {
            "pages": pages,
            "api_keys": len(config["api_keys"]),
            "rate_limit_scope": scope.scope,
            "rate_limit_scope_basis": scope.basis,
            "keys_and_limit": scope.describe(),
            "requests_per_second": rate,
            "minimum_seconds": round(pages / rate, 1),
        },
        "profile": {
            "records": sum(len(rows) for rows in profile.values()),
            "streams": {name: len(rows) for name, rows in profile.items()},
            "extra_requests": 0,
            "note": "the first page of each resource and of each appointment status, read for the counts",
        },
        # `meltano run reconcile` re-reads every record whatever the bookmarks say (the only way to notice
        # records deleted outright): the full extraction's pages again, each time it runs.
        "reconcile_estimate": {"pages": pages, "page_size": page_size, "minimum_seconds": round(pages / rate, 1)},
        "audit_requests": requests_used,
        "audit_seconds_at_rate": round(requests_used / rate, 1),
        "patient_custom_field_definitions": definitions,
        "profile_sample": {name: list(rows.values()) for name, rows in profile.items()},
    }


def _keep(profile: dict[str, dict], stream: str, rows: list[dict]) -> None:
    bucket = profile.setdefault(stream, {})
    for row in rows:
        bucket.setdefault(row.get("id"), {key: value for key, value in row.items() if key not in NOT_PROFILED})


def render_markdown(audit: dict) -> str:
    source, estimate = audit["practicehub"], audit["extraction_estimate"]
    reconcile = audit["reconcile_estimate"]
    lines = ["# Migration audit: PracticeHub", "", "| resource | records |", "|---|---:|"]
    lines += [f"| {name}{' (assumed endpoint)' if name in ASSUMED_RESOURCES else ''} | {count:,} |"
              for name, count in source["records"].items()]
    lines += [f"| **total** | **{source['records_total']:,}** |", "", "Appointments by status:", ""]
    lines += [f"- {status}: {count:,}" for status, count in source["appointment_statuses"].items()]
    lines += ["", f"Appointment types ({len(source['appointment_types'])}): " + ", ".join(source["appointment_types"])]
    lines += ["", "Patient custom fields in use:", ""]
    lines += [
        f"- `{field['name']}` ({field['label']}, {field['field_type']}{', PHI' if field.get('phi') else ''})"
        for field in source["patient_custom_fields"]
    ]
    hours = estimate["minimum_seconds"] / 3600
    profile = audit.get("profile") or {}
    lines += [
        "",
        f"Extraction: {estimate['pages']:,} pages at {estimate['requests_per_second']:g} requests/s "
        f"→ at least {estimate['minimum_seconds']:,.0f} s ({hours:.2f} h).",
        "",
        f"Rate limit: {estimate['keys_and_limit']}.",
        "",
        f"This audit: {audit['audit_requests']:,} requests (at least {audit.get('audit_seconds_at_rate', 0):,.0f} s "
        f"at that rate). They also read {profile.get('records', 0):,} records for the mapping proposal's value "
        f"profile ({PROFILE_FILE}, {profile.get('extra_requests', 0)} extra requests) and every patient custom "
        f"field definition ({DEFINITIONS_FILE}).",
        f"Reconcile pass (`meltano run reconcile`: verify against the source, and find records deleted outright"
        f" in PracticeHub): a full re-read, {reconcile['pages']:,} requests (one per page of"
        f" {reconcile['page_size']} records) → at least {reconcile['minimum_seconds']:,.0f} s"
        f" ({reconcile['minimum_seconds'] / 3600:.2f} h) each time it runs.",
        "",
    ]
    return "\n".join(lines)


def _typed(config: dict) -> dict:
    """Settings read from environment variables arrive as strings: give them their schema's type."""
    properties = TapPracticeHub.config_jsonschema["properties"]
    typed = {}
    for name, value in config.items():
        types = properties.get(name, {}).get("type", [])
        types = [types] if isinstance(types, str) else types
        if isinstance(value, str) and value != "":
            if "integer" in types:
                value = int(value)
            elif "number" in types:
                value = float(value)
            elif "boolean" in types:
                value = value.lower() in ("1", "true", "yes", "on")
            elif "array" in types and value.startswith("["):
                value = json.loads(value)
        if value != "":
            typed[name] = value
    return typed


def write_proposal_inputs(out: Path, definitions: list[dict], profile: dict[str, list[dict]]) -> None:
    """What `map-practicehub-pipedrive propose` reads from this folder when present."""
    (out / DEFINITIONS_FILE).write_text(json.dumps(
        {"complete": True, "count": len(definitions), "definitions": definitions}, indent=2, ensure_ascii=False) + "\n")
    lines = "".join(json.dumps({"type": "RECORD", "stream": stream, "record": record}, ensure_ascii=False) + "\n"
                    for stream, rows in profile.items() for record in rows)
    path = out / PROFILE_FILE
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)  # os.open keeps an existing file's mode
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write(lines)  # patient records: owner-only, like the tap's downloaded files
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tap-practicehub-audit", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="tap config JSON file, or ENV for TAP_PRACTICEHUB_* variables")
    parser.add_argument("--out", default="output/audit", help="folder for practicehub-audit.json and .md")
    args = parser.parse_args(argv)
    if args.config == "ENV":
        config = _typed(dict(TapPracticeHub(config=None, parse_env_config=True, validate_config=False).config))
    else:
        config = json.loads(Path(args.config).read_text())
    try:
        audit = run_audit(config)
    except Exception as exc:  # one clear message for the user; the API client already logged the detail
        details = "; ".join(str(error) for error in getattr(exc, "errors", None) or [])
        print(f"Audit failed: {exc}{': ' + details if details else ''}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_proposal_inputs(out, audit.pop("patient_custom_field_definitions"), audit.pop("profile_sample"))
    (out / "practicehub-audit.json").write_text(json.dumps(audit, indent=2) + "\n")
    (out / "practicehub-audit.md").write_text(render_markdown(audit))
    estimate = audit["extraction_estimate"]
    print(
        f"PracticeHub audit: {audit['practicehub']['records_total']:,} records in {len(audit['practicehub']['records'])}"
        f" resources; extraction needs at least {estimate['minimum_seconds']:,.0f} s. Report: {out}/practicehub-audit.md"
    )
    return 0


if __name__ == "__main__":
    private_outputs()
    sys.exit(main())
