"""The audit also writes what `propose` reads: every definition (all pages) and a profile sample, at no extra request."""

import json

from practicehub_sandbox.data import add_unfamiliar_phi_field, load_dataset
from tap_practicehub.audit import main
from tap_practicehub.settings import ASSUMED_RESOURCES


def test_definitions_in_full_and_a_profile_sample_within_the_same_requests(practicehub_sandbox_factory, tmp_path):
    dataset = add_unfamiliar_phi_field(load_dataset("tiny"))
    sandbox = practicehub_sandbox_factory(dataset=dataset)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"base_url": sandbox.base_url, "api_keys": list(sandbox.api_keys),
                                  "app_details": "audit-test=it@example.com", "requests_per_second": 100,
                                  "page_size": 4}))
    out = tmp_path / "audit"
    assert main(["--config", str(config), "--out", str(out)]) == 0

    definitions = json.loads((out / "patient_custom_fields.json").read_text())
    assert definitions["complete"] and definitions["definitions"] == dataset["patient_custom_fields"]  # 9: 3 pages
    profile = [json.loads(line) for line in (out / "profile-sample.jsonl").read_text().splitlines()]
    streams = {message["stream"] for message in profile}
    assert streams == set(dataset) - set(ASSUMED_RESOURCES)  # assumed resources are read only when listed
    assert all("url" not in message["record"] for message in profile)  # signed links are not kept
    patients = [m["record"] for m in profile if m["stream"] == "patients"]
    assert len(patients) == 4 and all(record in dataset["patients"] for record in patients)  # as served
    statuses = {m["record"]["status"] for m in profile if m["stream"] == "appointments"}
    assert statuses == {row["status"] for row in dataset["appointments"]}  # every status, however rare
    assert (out / "profile-sample.jsonl").stat().st_mode & 0o777 == 0o600

    audit = json.loads((out / "practicehub-audit.json").read_text())
    pages = -(-len(dataset["patient_custom_fields"]) // 4) + -(-len(dataset["appointment_types"]) // 4)
    assert audit["audit_requests"] == sandbox.stats()["requests"] == 18 + 5 + pages
    assert audit["profile"]["records"] == len(profile) and audit["profile"]["extra_requests"] == 0
    assert "patient_custom_field_definitions" not in audit and "profile_sample" not in audit
    assert "records for the mapping proposal's value profile" in (out / "practicehub-audit.md").read_text()
