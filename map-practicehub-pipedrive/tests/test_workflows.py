"""The workflow rebuild guide: Pipedrive wording for known events, and the plan's automation cap."""

from __future__ import annotations

import json

from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import STAMP


def workflow(wid: int, event: str, active: int) -> dict:
    return {"id": wid, "name": f"Flow {wid}", "description": None,
            "trigger": {"event": event, "conditions": [{"field": "referral_source", "operator": "not_empty",
                                                        "value": None}]},
            "actions": [{"type": "notify_user", "delay_minutes": 0, "template": "x", "target": "billing",
                         "value": None}], "active": active, **STAMP}


def test_cap_is_counted_and_known_events_are_translated(tmp_path):
    records = {"workflows": [workflow(1, "appointment.missed", 1), workflow(2, "invoice.overdue", 1),
                             workflow(3, "patient.created", 0)]}
    output = run_mapper(base_config(tmp_path, automation_cap=1), singer_lines(records))
    assert not any(m["type"] == "RECORD" for m in output.messages)
    guide = json.loads((tmp_path / "reports" / "workflows.json").read_text())
    assert guide["summary"] == {"workflows": 3, "active": 2, "automation_cap": 1, "over_cap_by": 1}
    steps = {w["source_id"]: w["pipedrive_steps"] for w in guide["workflows"]}
    assert steps["workflows:1"] == [
        "Trigger: Deal updated; condition: status is 'lost' and lost reason is 'Missed (no-show)'",
        "Condition: referral_source not_empty",
        "Action 'Create activity' (or a Slack/Teams message app) notifying billing"]
    assert steps["workflows:2"][0].startswith("No invoice entity in Pipedrive")
    markdown = (tmp_path / "reports" / "workflows.md").read_text()
    assert "**Over the cap by 1**" in markdown and "## Flow 3 (workflows:3, inactive)" in markdown
    assert json.loads((tmp_path / "reports" / "reconciliation.json").read_text())["streams"]["workflows"] == {
        "in": 3, "out": 0, "skipped": 0, "merged": 0, "documented": 3, "reference": 0, "consumed": 0,
        "not_sampled": 0, "balanced": True}
