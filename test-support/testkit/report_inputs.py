"""Report inputs as the mapper and the target write them (shapes in target-pipedrive/REPORT.md).

`balanced_inputs()` is a consistent small migration; tests change one number to break it. It has two
runs: a sample the day before (EARLIER_RUN) and the latest run, with the ledger and manifest both left.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from target_pipedrive.ledger import Ledger

START = 1_764_054_000  # 2025-11-25T07:00:00Z
LATEST_RUN = "20251125T070000Z"
EARLIER_RUN = "20251124T070000Z"


def balanced_inputs() -> dict:
    reconciliation = {
        "balanced": True,
        "streams": {
            "businesses": {
                "in": 3,
                "out": 3,
                "skipped": 0,
                "merged": 0,
                "documented": 0,
                "reference": 0,
                "consumed": 0,
                "not_sampled": 0,
                "balanced": True,
            },
            "patients": {
                "in": 120,
                "out": 110,
                "skipped": 4,
                "merged": 6,
                "documented": 0,
                "reference": 0,
                "consumed": 0,
                "not_sampled": 0,
                "balanced": True,
                "skip_reasons": {"deleted_in_source": 3, "missing_id": 1},
            },
            "appointments": {
                "in": 300,
                "out": 295,
                "skipped": 5,
                "merged": 0,
                "documented": 0,
                "reference": 0,
                "consumed": 0,
                "not_sampled": 0,
                "balanced": True,
                "skip_reasons": {"unknown_status": 5},
            },
            "practitioners": {
                "in": 4,
                "out": 0,
                "skipped": 0,
                "merged": 0,
                "documented": 0,
                "reference": 4,
                "consumed": 0,
                "not_sampled": 0,
                "balanced": True,
            },
            "workflows": {
                "in": 2,
                "out": 0,
                "skipped": 0,
                "merged": 0,
                "documented": 2,
                "reference": 0,
                "consumed": 0,
                "not_sampled": 0,
                "balanced": True,
            },
        },
        "records_emitted": {"organizations": 3, "persons": 110, "deals": 295, "skipped": 9},
    }
    run_id = LATEST_RUN
    load_summary = {  # as target_pipedrive.report.RunReport writes summary.json
        "run_id": run_id,
        "status": "completed",
        "message": "",
        "started_at": START,
        "elapsed_seconds": 100.4,
        "streams": {
            "organizations": {
                "received": 3,
                "created": 3,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "waiting": 0,
            },
            "persons": {
                "received": 110,
                "created": 100,
                "updated": 6,
                "unchanged": 2,
                "skipped": 2,
                "waiting": 0,
            },
            "deals": {
                "received": 295,
                "created": 290,
                "updated": 0,
                "unchanged": 4,
                "skipped": 1,
                "waiting": 0,
            },
        },
        "reconciles": True,
        "transform_skipped": 9,
        "unmatched_owners": [
            {
                "owner_name": "Dr Ann Lee",
                "owner_source_id": "practitioners:7",
                "owner_email": "ann@clinic.example",
                "assigned_to": "office@clinic.example",
                "records": {"deals": 10, "persons": 2},
            },
        ],
        "api": {
            "calls": 420,
            "tokens": 2_100,
            "status_429": 2,
            "retries": 2,
            "writes": 399,
            "daily_tokens_remaining": 80_000,
            "daily_token_limit": 90_000,
        },
        "fields": [],
    }

    def skip(origin: str, entity: str, source_id: str, reason: str, detail: str, run: str = run_id) -> dict:
        return {
            "origin": origin,
            "entity": entity,
            "source_id": source_id,
            "reason": reason,
            "detail": detail,
            "run_id": run,
            "at": START + 50,
        }

    skipped = (
        [
            skip("transform", "patients", f"patients:{n}", "deleted_in_source", "deleted in PracticeHub")
            for n in range(3)
        ]
        + [skip("transform", "patients", "patients:None", "missing_id", "patients record has no id")]
        + [
            skip(
                "transform",
                "appointments",
                f"appointments:{n}",
                "unknown_status",
                "status 'x' is not in the mapping's status_map",
            )
            for n in range(5)
        ]
        + [skip("target", "persons", f"patients:{90 + n}", "rejected", "HTTP 400") for n in range(2)]
        + [
            skip(
                "target",
                "deals",
                "appointments:77",
                "missing_parent",
                "parent not loaded: person_source_id=p:5",
            )
        ]
        # An earlier run's entries stay in the file: the report must leave them out.
        + [skip("target", "deals", "appointments:1", "missing_parent", "older run", run=EARLIER_RUN)]
    )
    metrics = [
        {
            "t": START + second,
            "calls": 4 if second % 10 else 6,
            "status_429": 1 if second in (12, 13) else 0,
            "tokens": 20 if second % 10 else 30,
        }
        for second in range(100)
    ]
    # 100 seconds: 90 × 4 + 10 × 6 = 420 calls, 90 × 20 + 10 × 30 = 2,100 tokens, 2 × 429.
    verify_diff = (
        "entity,source_id,pipedrive_id,field,field_label,sent,actual\n"
        'persons,patients:3,13,emails,,"[""a@x.example""]","[]"\n'
        "persons,patients:4,14,custom_fields.referral_source,referral_source (Referral source),"
        '"""Google""","""Friend"""\n'
    )
    return {
        "transform": {
            "reconciliation.json": reconciliation,
            "dedupe.json": {
                "merges": [
                    {
                        "survivor_source_id": f"patients:{n}",
                        "merged_source_id": f"patients:{n + 500}",
                        "matched_on": "email",
                    }
                    for n in range(6)
                ]
            },
            "dedupe.csv": "survivor_source_id,merged_source_id,matched_on\n"
            + "".join(f"patients:{n},patients:{n + 500},email\n" for n in range(6)),
            "workflows.json": {
                "summary": {"workflows": 2, "active": 1, "automation_cap": 50, "over_cap_by": 0},
                "workflows": [],
            },
            "workflows.md": "# PracticeHub workflows: rebuild guide for Pipedrive automations\n",
        },
        "state": {
            "summary.json": load_summary,
            f"summary-{run_id}.json": load_summary,
            f"summary-{EARLIER_RUN}.json": earlier_run_summary(),
            "ledger.sqlite": ledger_rows(),
            "manifest.jsonl": manifest(ledger_rows()),
            "skipped.jsonl": skipped,
            "metrics.jsonl": metrics,
            "verify_summary.json": {
                "ok": False,
                "checked": {"organizations": 3, "persons": 108, "deals": 294},
                "entities_checked": 405,
                "mismatches": 2,
                "mismatched_fields": ["custom_fields.referral_source", "emails"],
            },
            "verify_diff.csv": verify_diff,
            "field_map.json": [
                {
                    "stream": "persons",
                    "logical_name": "referral_source",
                    "label": "Referral source",
                    "key": "a1b2c3",
                }
            ],
        },
    }


def earlier_run_summary() -> dict:
    """The sample run the day before: 6 persons and 4 deals created, one deal whose person never came."""
    return {
        "run_id": EARLIER_RUN,
        "status": "completed",
        "message": "",
        "started_at": START - 86_400,
        "elapsed_seconds": 12.0,
        "streams": {
            "persons": {
                "received": 6,
                "created": 6,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "waiting": 0,
            },
            "deals": {"received": 5, "created": 4, "updated": 0, "unchanged": 0, "skipped": 1, "waiting": 0},
        },
        "api": {"calls": 30, "tokens": 150, "status_429": 0},
    }


def ledger_rows() -> list[dict]:
    """What both runs left in the ledger, with the run that created each entity (`created_in`).

    Of the sample's 6 persons the latest run updated 4 and left 2 unchanged; it also adopted 2 persons
    already in the account (origin `preexisting`, counted as updated in its summary).
    """

    def rows(stream, source, first_id, number, created_in, last_run=None, origin="created", start=0):
        return [
            {
                "stream": stream,
                "source_id": f"{source}:{start + n}",
                "pipedrive_id": first_id + n,
                "origin": origin,
                "run_id": last_run or created_in,
                "created_in": created_in,
            }
            for n in range(number)
        ]

    return (
        rows("organizations", "locations", 1, 3, LATEST_RUN)
        + rows("persons", "patients", 1_000, 100, LATEST_RUN, start=200)
        + rows("persons", "patients", 900, 4, EARLIER_RUN, last_run=LATEST_RUN, start=10)
        + rows("persons", "patients", 904, 2, EARLIER_RUN, start=14)
        + rows("persons", "patients", 50, 2, LATEST_RUN, origin="preexisting", start=16)
        + rows("deals", "appointments", 5_000, 290, LATEST_RUN, start=1_000)
        + rows("deals", "appointments", 4_000, 4, EARLIER_RUN, start=10)
    )


def manifest(rows: list[dict]) -> list[dict]:
    """A create line per entity the migration created, an update line per adopted record (as write_protocol.py and delta.py write them)."""
    return [
        {
            "op": "create" if row["origin"] == "created" else "update",
            "type": row["stream"],
            "id": row["pipedrive_id"],
            "run_id": row["created_in"],
            "at": START,
        }
        for row in rows
    ]


def write_ledger(path: Path, rows: list[dict]) -> None:
    """A ledger with the target's own schema; every row landed (`done`)."""
    database = sqlite3.connect(path)
    database.executescript(Ledger.SCHEMA)
    database.executemany(
        "INSERT INTO entities (stream, source_id, pipedrive_id, status, origin, content_hash, sent, run_id,"
        " updated_at) VALUES (?, ?, ?, 'done', ?, '', '{}', ?, ?)",
        [(r["stream"], r["source_id"], r["pipedrive_id"], r["origin"], r["run_id"], START) for r in rows],
    )
    database.commit()
    database.close()


def write_inputs(root: Path, inputs: dict) -> tuple[Path, Path]:
    """Write the inputs as files; return (state_dir, transform_reports)."""
    folders = {"state": root / "state", "transform": root / "mapper-reports"}
    for side, files in inputs.items():
        folder = folders[side]
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            if name.endswith(".sqlite"):
                write_ledger(folder / name, content)
                continue
            if isinstance(content, str):
                text = content
            elif name.endswith(".jsonl"):
                text = "".join(json.dumps(row) + "\n" for row in content)
            else:
                text = json.dumps(content, indent=2)
            (folder / name).write_text(text, "utf-8")
    return folders["state"], folders["transform"]
