"""The PracticeHub side of a migration audit: what is there, and how long extracting it will take.

One request per resource (``page_size=1`` reads ``total_entries``), one per appointment status, and the
lists of appointment types and patient custom fields; all through the tap's own paced client, which also
learns from them whether several keys share one account limit: the estimate uses what it learned.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from tap_practicehub.tap import TapPracticeHub

APPOINTMENT_STATUSES = ("pending", "arrived", "processed", "missed", "cancelled")


def _read_all(api, resource: str) -> list[dict]:
    rows: dict[int, dict] = {}
    page = api.get(resource, {"page_size": 100})
    while True:
        rows.update({row["id"]: row for row in page.rows})
        if not page.next_url:
            return [rows[key] for key in sorted(rows)]
        page = api.get(page.next_url)


def run_audit(config: dict) -> dict:
    tap = TapPracticeHub(config=config, validate_config=True)
    api = tap.api
    page_size = int(config.get("page_size", 100))
    try:
        resources = {}
        for stream in tap.discover_streams():
            resources[stream.name] = api.get(stream.name, {"page_size": 1}).total_entries
        statuses = {}
        for status in APPOINTMENT_STATUSES:
            page = api.get("appointments", {"page_size": 1, "status": f"eq:{status}"})
            if any(row.get("status") != status for row in page.rows):
                raise RuntimeError("PracticeHub ignored the appointments status filter: counts by status unknown")
            statuses[status] = page.total_entries
        appointment_types = sorted({row.get("name") or "" for row in _read_all(api, "appointment_types")})
        custom_fields = [
            {key: row.get(key) for key in ("name", "label", "field_type", "phi")}
            for row in _read_all(api, "patient_custom_fields")
        ]
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
        "audit_requests": requests_used,
    }


def render_markdown(audit: dict) -> str:
    source, estimate = audit["practicehub"], audit["extraction_estimate"]
    lines = ["# Migration audit: PracticeHub", "", "| resource | records |", "|---|---:|"]
    lines += [f"| {name} | {count:,} |" for name, count in source["records"].items()]
    lines += [f"| **total** | **{source['records_total']:,}** |", "", "Appointments by status:", ""]
    lines += [f"- {status}: {count:,}" for status, count in source["appointment_statuses"].items()]
    lines += ["", f"Appointment types ({len(source['appointment_types'])}): " + ", ".join(source["appointment_types"])]
    lines += ["", "Patient custom fields in use:", ""]
    lines += [
        f"- `{field['name']}` ({field['label']}, {field['field_type']}{', PHI' if field.get('phi') else ''})"
        for field in source["patient_custom_fields"]
    ]
    hours = estimate["minimum_seconds"] / 3600
    lines += [
        "",
        f"Extraction: {estimate['pages']:,} pages at {estimate['requests_per_second']:g} requests/s "
        f"→ at least {estimate['minimum_seconds']:,.0f} s ({hours:.2f} h).",
        "",
        f"Rate limit: {estimate['keys_and_limit']}.",
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
    (out / "practicehub-audit.json").write_text(json.dumps(audit, indent=2) + "\n")
    (out / "practicehub-audit.md").write_text(render_markdown(audit))
    estimate = audit["extraction_estimate"]
    print(
        f"PracticeHub audit: {audit['practicehub']['records_total']:,} records in {len(audit['practicehub']['records'])}"
        f" resources; extraction needs at least {estimate['minimum_seconds']:,.0f} s. Report: {out}/practicehub-audit.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
