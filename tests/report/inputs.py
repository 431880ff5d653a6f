"""Report inputs as the mapper and the target write them (shapes in target-pipedrive/REPORT.md).

`balanced_inputs()` is a consistent small migration; tests change one number to break it.
"""

from __future__ import annotations

import json
from pathlib import Path

START = 1_764_054_000  # 2025-11-25T07:00:00Z


def balanced_inputs() -> dict:
    reconciliation = {
        "balanced": True,
        "streams": {
            "businesses": {"in": 3, "out": 3, "skipped": 0, "merged": 0, "documented": 0, "reference": 0,
                           "consumed": 0, "not_sampled": 0, "balanced": True},
            "patients": {"in": 120, "out": 110, "skipped": 4, "merged": 6, "documented": 0, "reference": 0,
                         "consumed": 0, "not_sampled": 0, "balanced": True,
                         "skip_reasons": {"deleted_in_source": 3, "missing_id": 1}},
            "appointments": {"in": 300, "out": 295, "skipped": 5, "merged": 0, "documented": 0, "reference": 0,
                             "consumed": 0, "not_sampled": 0, "balanced": True,
                             "skip_reasons": {"unknown_status": 5}},
            "practitioners": {"in": 4, "out": 0, "skipped": 0, "merged": 0, "documented": 0, "reference": 4,
                              "consumed": 0, "not_sampled": 0, "balanced": True},
            "workflows": {"in": 2, "out": 0, "skipped": 0, "merged": 0, "documented": 2, "reference": 0,
                          "consumed": 0, "not_sampled": 0, "balanced": True},
        },
        "records_emitted": {"organizations": 3, "persons": 110, "deals": 295, "skipped": 9},
    }
    run_id = "20251125T070000Z"
    load_summary = {  # as target_pipedrive.report.RunReport writes summary.json
        "run_id": run_id, "status": "completed", "message": "", "started_at": START, "elapsed_seconds": 100.4,
        "streams": {
            "organizations": {"received": 3, "created": 3, "updated": 0, "unchanged": 0, "skipped": 0, "waiting": 0},
            "persons": {"received": 110, "created": 100, "updated": 6, "unchanged": 2, "skipped": 2, "waiting": 0},
            "deals": {"received": 295, "created": 290, "updated": 0, "unchanged": 4, "skipped": 1, "waiting": 0},
        },
        "reconciles": True,
        "transform_skipped": 9,
        "unmatched_owners": [
            {"owner_name": "Dr Ann Lee", "owner_source_id": "practitioners:7", "owner_email": "ann@clinic.example",
             "assigned_to": "office@clinic.example", "records": {"deals": 10, "persons": 2}},
        ],
        "api": {"calls": 420, "tokens": 2_100, "status_429": 2, "retries": 2, "writes": 399,
                "daily_tokens_remaining": 80_000, "daily_token_limit": 90_000},
        "fields": [],
    }

    def skip(origin: str, entity: str, source_id: str, reason: str, detail: str, run: str = run_id) -> dict:
        return {"origin": origin, "entity": entity, "source_id": source_id, "reason": reason, "detail": detail,
                "run_id": run, "at": START + 50}

    skipped = (
        [skip("transform", "patients", f"patients:{n}", "deleted_in_source", "deleted in PracticeHub")
         for n in range(3)]
        + [skip("transform", "patients", "patients:None", "missing_id", "patients record has no id")]
        + [skip("transform", "appointments", f"appointments:{n}", "unknown_status",
                "status 'x' is not in the mapping's status_map") for n in range(5)]
        + [skip("target", "persons", f"patients:{90 + n}", "rejected", "HTTP 400") for n in range(2)]
        + [skip("target", "deals", "appointments:77", "missing_parent", "parent not loaded: person_source_id=p:5")]
        # An earlier run's entries stay in the file: the report must leave them out.
        + [skip("target", "deals", "appointments:1", "missing_parent", "older run", run="20251124T070000Z")]
    )
    metrics = [{"t": START + second, "calls": 4 if second % 10 else 6, "status_429": 1 if second in (12, 13) else 0,
                "tokens": 20 if second % 10 else 30} for second in range(100)]
    # 100 seconds: 90 × 4 + 10 × 6 = 420 calls, 90 × 20 + 10 × 30 = 2,100 tokens, 2 × 429.
    verify_diff = ("entity,source_id,pipedrive_id,field,field_label,sent,actual\n"
                   'persons,patients:3,13,emails,,"[""a@x.example""]","[]"\n'
                   'persons,patients:4,14,custom_fields.referral_source,referral_source (Referral source),'
                   '"""Google""","""Friend"""\n')
    return {
        "transform": {
            "reconciliation.json": reconciliation,
            "dedupe.json": {"merges": [{"survivor_source_id": f"patients:{n}", "merged_source_id": f"patients:{n + 500}",
                                        "matched_on": "email"} for n in range(6)]},
            "dedupe.csv": "survivor_source_id,merged_source_id,matched_on\n"
                          + "".join(f"patients:{n},patients:{n + 500},email\n" for n in range(6)),
            "workflows.json": {"summary": {"workflows": 2, "active": 1, "automation_cap": 50, "over_cap_by": 0},
                               "workflows": []},
            "workflows.md": "# PracticeHub workflows: rebuild guide for Pipedrive automations\n",
        },
        "state": {
            "summary.json": load_summary,
            "skipped.jsonl": skipped,
            "metrics.jsonl": metrics,
            "verify_summary.json": {"ok": False, "checked": {"organizations": 3, "persons": 108, "deals": 294},
                                    "entities_checked": 405, "mismatches": 2,
                                    "mismatched_fields": ["custom_fields.referral_source", "emails"]},
            "verify_diff.csv": verify_diff,
            "field_map.json": [{"stream": "persons", "logical_name": "referral_source", "label": "Referral source",
                                "key": "a1b2c3"}],
        },
    }


def write_inputs(root: Path, inputs: dict) -> tuple[Path, Path]:
    """Write the inputs as files; return (state_dir, transform_reports)."""
    folders = {"state": root / "state", "transform": root / "mapper-reports"}
    for side, files in inputs.items():
        folder = folders[side]
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            if isinstance(content, str):
                text = content
            elif name.endswith(".jsonl"):
                text = "".join(json.dumps(row) + "\n" for row in content)
            else:
                text = json.dumps(content, indent=2)
            (folder / name).write_text(text, "utf-8")
    return folders["state"], folders["transform"]
