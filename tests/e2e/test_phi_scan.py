"""Issue 21's "done when": after an `exclude` run, the whole Pipedrive account holds no PHI value of the source.

The tiny practice plus a patient custom field the project has never seen by name (PracticeHub marks it
`phi: 1`), through the real commands: the audit (definitions read over several pages, a profile sample),
discovery, a one-record-per-stream sample, `propose`, `confirm`, then tap → mapper → target as three
processes. The scan then reads every list of the account through the public API.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from practicehub_sandbox.data import add_unfamiliar_phi_field, load_dataset

from tests.e2e.pipedrive_scan import account_contents, found_in
from tests.reliability.pipeline import COMMANDS, Workspace, clean_env

pytestmark = pytest.mark.slow
UNFAMILIAR = "medicare_number"


def phi_needles(dataset: dict[str, list[dict]]) -> set[str]:
    """Every value of a PHI-marked or unclassified patient field, the dates of birth (and their usual other
    spellings), the patient numbers, and the clinical text of the PHI streams."""
    marked = {row["name"] for row in dataset["patient_custom_fields"] if row.get("phi")}
    defined = {row["name"] for row in dataset["patient_custom_fields"]}
    needles: set[str] = set()
    for patient in dataset["patients"]:
        for item in patient["custom_fields"]:
            if item.get("value") and (item["name"] in marked or item["name"] not in defined):
                needles.add(str(item["value"]))
                if item["name"] == "conditions":
                    needles |= {part.strip() for part in str(item["value"]).split(";")}
        if patient.get("dob"):
            needles.add(patient["dob"])
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", patient["dob"]):
                year, month, day = patient["dob"].split("-")
                needles |= {f"{day}/{month}/{year}", f"{month}/{day}/{year}"}
        needles.add(patient["patient_number"])
    needles |= {row["note"] for row in dataset["appointments"] if row.get("note")}
    for note in dataset["clinical_notes"]:
        needles |= {item["val"].removeprefix("<p>").removesuffix("</p>") for item in note["data"]["soap_data"]}
    needles |= {row["goals"] for row in dataset["care_plans"]} | {row["file_name"] for row in dataset["files"]}
    clinic_names = {row["name"] for row in dataset["locations"]}  # two insurers share a clinic's name
    return {needle.strip() for needle in needles if len(needle.strip()) >= 4} - clinic_names


def _run(args: list[str], out=None) -> None:
    completed = subprocess.run(args, stdout=out or subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=clean_env(), timeout=180)
    assert completed.returncode == 0, completed.stderr[-2000:]


@pytest.mark.parametrize(("profile", "with_audit"), [("tiny", True), ("tiny", False), ("demo", True)],
                         ids=["tiny-audit-then-propose", "tiny-one-record-sample-only", "demo-audit-then-propose"])
def test_exclude_leaves_no_phi_value_anywhere_in_the_account(profile, with_audit, tmp_path,
                                                             practicehub_sandbox_factory, pipedrive_sandbox_factory):
    dataset = add_unfamiliar_phi_field(load_dataset(profile))
    practicehub = practicehub_sandbox_factory(dataset=dataset, api_keys=("ph-scan-key",))
    pipedrive = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="empty", time_scale=50.0)
    out = tmp_path / "output"
    out.mkdir()
    tap_config = out / "tap.json"
    tap_config.write_text(json.dumps({"base_url": practicehub.base_url, "api_keys": list(practicehub.api_keys),
                                      "app_details": "phi-scan=tests@example.com", "requests_per_second": 200.0}))
    if with_audit:  # three definitions a page: the unfamiliar one is on the last page
        audit_config = out / "audit-tap.json"
        audit_config.write_text(json.dumps({**json.loads(tap_config.read_text()), "page_size": 3}))
        _run([sys.executable, "-m", "tap_practicehub.audit", "--config", str(audit_config), "--out", str(out / "audit")])
        assert (out / "audit" / "profile-sample.jsonl").stat().st_mode & 0o077 == 0  # patient data: owner only
    with open(out / "catalog.json", "w") as catalog:
        _run([COMMANDS["tap"], "--config", str(tap_config), "--discover"], catalog)
    with open(out / "sample.singer", "w") as sample:
        _run([COMMANDS["tap"], "--config", str(tap_config), "--test=record"], sample)
    mapping = out / "mapping.yml"
    _run([COMMANDS["mapper"], "propose", "--catalog", str(out / "catalog.json"), "--sample",
          str(out / "sample.singer"), "--out", str(mapping)])
    _run([COMMANDS["mapper"], "confirm", "--mapping", str(mapping), "--by", "phi-scan"])
    rule = read_rule(mapping)
    assert rule["phi"] is True and rule["phi_found"] is (True if with_audit else None)

    workspace = Workspace(tmp_path / "ws", practicehub, pipedrive, mapping, tap={"download_files": True},
                          mapper={"phi_policy": "exclude", "baa_reference": None})
    result = workspace.run(timeout=300)
    assert result.ok, result.describe()

    contents = account_contents(pipedrive)
    assert len(contents["persons"]) >= 15 and contents["deals"]  # the migration itself happened
    needles = phi_needles(dataset)
    assert len(needles) > 100
    assert found_in(contents, needles) == {}
    # The scan sees values: contact details and a non-PHI custom field of the same patients are there.
    emails = {p["email"].strip().lower() for p in dataset["patients"] if p.get("email") and not p["deleted"]}
    assert found_in(contents, set(list(emails)[:5])).keys() == set(list(emails)[:5])
    report = json.loads((workspace.mapper_reports / "phi.json").read_text())
    left_out = {item["mark"]: item for item in report["left_out"]}
    assert left_out[f"patients.custom_fields.{UNFAMILIAR}"]["values"] == sum(
        1 for p in dataset["patients"] for item in p["custom_fields"] if item["name"] == UNFAMILIAR and item["value"])
    if with_audit:
        assert left_out[f"patients.custom_fields.{UNFAMILIAR}"]["label"] == "🪪 Medicare number"


def read_rule(mapping) -> dict:
    import yaml

    data = yaml.safe_load(mapping.read_text())
    return data["streams"]["patients"]["custom_fields"][UNFAMILIAR]
