"""PracticeHub workflows are not loaded: they become a rebuild guide for Pipedrive's Automation builder."""

from __future__ import annotations

import json
from pathlib import Path

# Pipedrive's cap on automations per company (support.pipedrive.com "Usage limits in Pipedrive",
# new plans, 2025): Lite none, Growth 50, Premium 150, Ultimate 250.
PLAN_CAPS = {"lite": 0, "growth": 50, "premium": 150, "ultimate": 250}
DEFAULT_AUTOMATION_CAP = PLAN_CAPS["growth"]

ACTIONS = {
    "send_email": "Action 'Send email' (needs the sender's mailbox synced to Pipedrive); template: {template}",
    "send_sms": "No built-in SMS action: use 'Send webhook' to an SMS provider, or a Marketplace SMS app; "
                "template: {template}",
    "create_task": "Action 'Create activity' with type Task, assigned to {target}",
    "update_field": "Action 'Update deal fields' (or person fields): set {target} to {value}",
    "wait": "Step 'Delay' (wait) of {delay_minutes} minutes",
    "notify_user": "Action 'Create activity' (or a Slack/Teams message app) notifying {target}",
}


# PracticeHub events, in the words of Pipedrive's Automation builder (stages and reasons as the default
# mapping's status_map names them).
TRIGGERS = {
    "appointment.created": "Trigger: Deal created (in the appointment type's pipeline)",
    "appointment.booked": "Trigger: Deal created (in the appointment type's pipeline)",
    "appointment.arrived": "Trigger: Deal updated; condition: stage is 'Arrived'",
    "appointment.processed": "Trigger: Deal updated; condition: status is 'won'",
    "appointment.missed": "Trigger: Deal updated; condition: status is 'lost' and lost reason is 'Missed (no-show)'",
    "appointment.cancelled": "Trigger: Deal updated; condition: status is 'lost' and lost reason is 'Cancelled'",
    "patient.created": "Trigger: Person created",
    "patient.updated": "Trigger: Person updated",
    "invoice.overdue": "No invoice entity in Pipedrive: add a 'Payment reminder' task with a due date on the "
                       "deal (Trigger: Activity due), or keep this automation in the billing system",
    "care_plan.completed": "No care-plan entity in Pipedrive: trigger on the last appointment's deal being won "
                           "(Trigger: Deal updated; condition: status is 'won')",
}


def pipedrive_trigger(event: str) -> str:
    if event in TRIGGERS:
        return TRIGGERS[event]
    lowered = event.lower()
    entity = "Person" if "patient" in lowered else "Activity" if "reminder" in lowered else "Deal"
    if "creat" in lowered or "book" in lowered:
        return f"Trigger: {entity} created (PracticeHub event {event})"
    if "delet" in lowered:
        return f"Trigger: {entity} deleted (PracticeHub event {event})"
    return f"Trigger: {entity} updated (PracticeHub event {event}; add the matching condition)"


def condition_text(condition: dict) -> str:
    value = condition.get("value")
    shown = "" if value is None else f" {', '.join(map(str, value)) if isinstance(value, list) else value}"
    return f"Condition: {condition.get('field')} {condition.get('operator')}{shown}"


class WorkflowBook:
    def __init__(self, automation_cap: int) -> None:
        self.cap = automation_cap
        self.workflows: list[dict] = []

    def add(self, record: dict) -> None:
        trigger = record.get("trigger") if isinstance(record.get("trigger"), dict) else {}
        conditions = [c for c in trigger.get("conditions") or [] if isinstance(c, dict)]
        actions = [a for a in record.get("actions") or [] if isinstance(a, dict)]
        steps = [pipedrive_trigger(str(trigger.get("event") or "unknown"))]
        steps += [condition_text(condition) for condition in conditions]
        for action in actions:
            fmt = ACTIONS.get(str(action.get("type")), "Action with no Pipedrive equivalent ({type}): rebuild by hand")
            steps.append(fmt.format_map({"template": None, "target": None, "value": None,
                                         "delay_minutes": 0, "type": action.get("type"), **action}))
            if action.get("delay_minutes") and action.get("type") != "wait":
                steps.insert(-1, f"Step 'Delay' of {action['delay_minutes']} minutes")
        self.workflows.append({
            "source_id": f"workflows:{record.get('id')}", "name": record.get("name"),
            "description": record.get("description"), "active": str(record.get("active")) in ("1", "True", "true"),
            "trigger": {"event": trigger.get("event"), "conditions": conditions}, "actions": actions,
            "pipedrive_steps": steps,
        })

    def summary(self) -> dict:
        active = sum(1 for workflow in self.workflows if workflow["active"])
        return {"workflows": len(self.workflows), "active": active, "automation_cap": self.cap,
                "over_cap_by": max(0, active - self.cap)}

    def write(self, reports_dir: Path) -> None:
        reports_dir.mkdir(parents=True, exist_ok=True)
        ordered = sorted(self.workflows, key=lambda w: w["source_id"])
        summary = self.summary()
        (reports_dir / "workflows.json").write_text(
            json.dumps({"summary": summary, "workflows": ordered}, indent=2, ensure_ascii=False) + "\n", "utf-8")
        lines = ["# PracticeHub workflows: rebuild guide for Pipedrive automations", "",
                 f"{summary['workflows']} workflows, {summary['active']} active; the Pipedrive plan allows "
                 f"{summary['automation_cap']} active automations (setting automation_cap).", ""]
        if summary["over_cap_by"]:
            lines += [f"**Over the cap by {summary['over_cap_by']}**: merge workflows, keep the most used "
                      "active, or move to a plan with a higher cap.", ""]
        for workflow in ordered:
            state = "active" if workflow["active"] else "inactive"
            lines += [f"## {workflow['name']} ({workflow['source_id']}, {state})", ""]
            if workflow.get("description"):
                lines += [str(workflow["description"]), ""]
            lines += [f"{number}. {step}" for number, step in enumerate(workflow["pipedrive_steps"], 1)]
            lines.append("")
        (reports_dir / "workflows.md").write_text("\n".join(lines), "utf-8")
