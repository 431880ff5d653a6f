"""A real third-party tap from PyPI feeding target-pipedrive through `meltano run`.

tap-jsonl (MeltanoLabs SDK, one stream per config) reads flat JSONL files: no `x-pipedrive-*` extensions, a
schema inferred from the data. Organizations, persons, deals in the account's existing pipeline and stage
(found by name), notes, and custom fields declared in the target's config land in the sandbox; a person whose
`emails` is a string is skipped with its reason, and the address appears in no output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from testkit.generic_tap import DECLARED_FIELDS, practice_rows
from testkit.target_run import ADMIN_EMAIL, live

from tests.e2e.conftest import meltano_env

BIN = Path(sys.executable).parent
TAP_JSONL = "tap-jsonl==0.3.1"  # its own venv (Meltano's): it pins singer-sdk 0.53, the project uses 0.54
STREAMS = ("organizations", "persons", "deals", "notes")
LEAKED_EMAIL = "meltano.leak@mail.example"


def _project(root: Path, sandbox, data_dir: Path, state_dir: Path) -> Path:
    extractors = [{"name": "tap-jsonl", "namespace": "tap_jsonl", "pip_url": TAP_JSONL,
                   "config": {"primary_keys": ["source_id"]}}]
    extractors += [{"name": f"tap-jsonl--{stream}", "inherit_from": "tap-jsonl",
                    "config": {"path": str(data_dir / f"{stream}.jsonl"), "stream_name": stream}}
                   for stream in STREAMS]
    settings = [{"name": "api_token", "kind": "string", "sensitive": True}, {"name": "base_url", "kind": "string"},
                {"name": "fallback_owner_email", "kind": "string"}, {"name": "state_dir", "kind": "string"},
                {"name": "plan", "kind": "string"}, {"name": "seats", "kind": "integer"},
                {"name": "max_concurrency", "kind": "integer"}, {"name": "custom_fields", "kind": "object"},
                {"name": "unknown_options", "kind": "string"}]
    loader = {"name": "target-pipedrive", "namespace": "target_pipedrive",
              "executable": str(BIN / "target-pipedrive"),  # this checkout's target, no install step
              "settings": settings,
              "config": {"base_url": sandbox.base_url, "fallback_owner_email": ADMIN_EMAIL, "state_dir": str(state_dir),
                         "plan": "premium", "seats": 3, "max_concurrency": 4, "custom_fields": DECLARED_FIELDS}}
    project = {"version": 1, "project_id": "target-pipedrive-generic-tap", "default_environment": "dev",
               "environments": [{"name": "dev"}], "plugins": {"extractors": extractors, "loaders": [loader]}}
    root.mkdir(parents=True, exist_ok=True)
    (root / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    return root


def _meltano(project: Path, env: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "meltano"), *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_tap_jsonl_through_meltano_run_lands_in_pipedrive(sandbox, tmp_path):
    rows = practice_rows(ADMIN_EMAIL)
    rows["persons"].append({"source_id": "pt-bad", "name": "Wrong Shape", "emails": LEAKED_EMAIL,
                            "owner_email": ADMIN_EMAIL})
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for stream in STREAMS:
        (data_dir / f"{stream}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[stream]), encoding="utf-8")
    state_dir = tmp_path / "state"
    project = _project(tmp_path / "project", sandbox, data_dir, state_dir)
    env = meltano_env(project, TARGET_PIPEDRIVE_API_TOKEN=sandbox.api_token)

    installed = _meltano(project, env, "install", "extractor", "tap-jsonl")
    assert installed.returncode == 0, installed.stderr[-3000:]
    blocks = [arg for stream in STREAMS for arg in (f"tap-jsonl--{stream}", "target-pipedrive")]
    run = _meltano(project, env, "run", *blocks)
    assert run.returncode == 0, run.stderr[-4000:]
    output = run.stdout + run.stderr
    assert "Traceback" not in output
    assert LEAKED_EMAIL not in output and "Billboard" not in output and sandbox.api_token not in output
    assert "1 persons record(s) skipped by the input contract: emails: wrong_type" in output

    snap = sandbox.snapshot()
    orgs = {o["name"]: o for o in live(snap, "organizations")}
    persons = {p["name"]: p for p in live(snap, "persons")}
    deals = {d["title"]: d for d in live(snap, "deals")}
    assert {"Northside Clinic", "Southside Clinic"} <= set(orgs)
    assert {"Ada Lovelace", "Alan Turing", "Grace Hopper"} <= set(persons) and "Wrong Shape" not in persons
    assert persons["Ada Lovelace"]["org_id"] == orgs["Northside Clinic"]["id"]
    assert persons["Ada Lovelace"]["emails"][0]["value"] == "ada@mail.example"

    pipeline = next(p for p in snap["pipelines"] if p["name"] == "Pipeline")  # the account's own
    stages = {s["name"]: s["id"] for s in snap["stages"] if s["pipeline_id"] == pipeline["id"]}
    assert deals["Physio block"]["pipeline_id"] == pipeline["id"]
    assert deals["Physio block"]["stage_id"] == stages["Contact Made"]
    assert deals["Physio block"]["person_id"] == persons["Ada Lovelace"]["id"]
    assert deals["Assessment"]["stage_id"] == stages["Lead In"]

    fields = {f["field_name"]: f for f in snap["fields"]["person"]}
    channel = fields["Lead channel"]
    options = {o["label"]: o["id"] for o in channel["options"]}
    assert persons["Ada Lovelace"]["custom_fields"][channel["field_code"]] == options["Website"]
    assert persons["Alan Turing"]["custom_fields"][fields["Referral code"]["field_code"]] == "R-200"
    assert "Billboard" not in options  # unknown_options: skip_value, the default
    campaign = next(f for f in snap["fields"]["deal"] if f["field_name"] == "Campaign")
    assert deals["Physio block"]["custom_fields"][campaign["field_code"]] == "Spring"

    notes = {n["content"]: n for n in live(snap, "notes")}
    assert notes["<p>First visit booked</p>"]["deal_id"] == deals["Physio block"]["id"]
    assert notes["<p>Called back</p>"]["person_id"] == persons["Alan Turing"]["id"]

    skips = [json.loads(line) for line in (state_dir / "skipped.jsonl").read_text().splitlines()]
    assert [(s["entity"], s["source_id"], s["reason"], s["problems"][0]["property"]) for s in skips] == [
        ("persons", "pt-bad", "contract_violation", "emails")]
    files = "".join(p.read_text(errors="replace") for p in state_dir.iterdir() if p.suffix in (".json", ".jsonl"))
    assert LEAKED_EMAIL not in files
    degraded = [json.loads(line) for line in (state_dir / "degraded.jsonl").read_text().splitlines()]
    assert [(d["source_id"], d["field"], d["action"]) for d in degraded] == [
        ("pt-3", "custom_fields.lead_channel", "skipped")]
