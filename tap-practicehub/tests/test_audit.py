"""The PracticeHub audit counts what the sandbox serves, with one request per resource and status."""

import json

import pytest
from tap_practicehub.audit import APPOINTMENT_STATUSES, main


def _config(sandbox) -> dict:
    return {
        "base_url": sandbox.base_url,
        "api_keys": list(sandbox.api_keys),
        "app_details": "audit-test=it@example.com",
        "requests_per_second": 100,
        "assumed_resources": ["patient_library", "prescriptions"],  # the inventory includes what is listed
    }


def test_audit_counts_match_the_dataset(practicehub_sandbox, tmp_path):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(_config(practicehub_sandbox)))
    practicehub_sandbox.reset_stats()

    assert main(["--config", str(config_path), "--out", str(tmp_path / "audit")]) == 0

    audit = json.loads((tmp_path / "audit" / "practicehub-audit.json").read_text())
    dataset = practicehub_sandbox.dataset
    expected = {resource: len(rows) for resource, rows in dataset.items()}
    assert {name: audit["practicehub"]["records"][name] for name in expected} == expected
    statuses = audit["practicehub"]["appointment_statuses"]
    for status in APPOINTMENT_STATUSES:
        assert statuses[status] == sum(1 for row in dataset["appointments"] if row["status"] == status)
    assert audit["practicehub"]["appointment_types"] == sorted({row["name"] for row in dataset["appointment_types"]})
    # 20 counts + 5 statuses + the two small lists (one page each in the tiny practice)
    assert practicehub_sandbox.stats()["requests"] == audit["audit_requests"] == 20 + 5 + 2
    markdown = (tmp_path / "audit" / "practicehub-audit.md").read_text()
    assert "patients" in markdown and "| prescriptions (assumed endpoint) |" in markdown


def test_audit_estimates_the_reconcile_pass_one_request_per_100_records(practicehub_sandbox, tmp_path):
    """The reconcile pass re-reads everything (the only way to find records deleted outright): a page per 100."""
    for number in range(130):
        practicehub_sandbox.create_record("patients", {"first_name": "Extra", "last_name": str(number)})
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(_config(practicehub_sandbox)))
    assert main(["--config", str(config_path), "--out", str(tmp_path / "audit")]) == 0
    audit = json.loads((tmp_path / "audit" / "practicehub-audit.json").read_text())
    counts = {resource: len(rows) for resource, rows in practicehub_sandbox.dataset.items()}
    assert counts["patients"] > 100  # two pages
    assert audit["reconcile_estimate"]["pages"] == sum(max(1, -(-n // 100)) for n in counts.values()) == len(counts) + 1
    text = (tmp_path / "audit" / "practicehub-audit.md").read_text()
    assert "Reconcile pass (`meltano run reconcile`" in text and f"{len(counts) + 1} requests (one per page of 100" in text


def test_audit_with_a_bad_key_fails_with_one_clear_line(practicehub_sandbox, tmp_path, capsys):
    config = _config(practicehub_sandbox) | {"api_keys": ["not-a-key"]}
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))

    assert main(["--config", str(config_path), "--out", str(tmp_path / "audit")]) == 1
    err = capsys.readouterr().err
    assert "api_keys" in err and "not-a-key" not in err


@pytest.mark.parametrize(("scope", "expected_rate", "words"), [
    ("account", 20.0, "2 keys sharing one account limit (learned: refusals followed from their combined pace"),
    ("key", 40.0, "2 keys, each with its own limit (learned:"),
])
def test_the_extraction_estimate_uses_the_rate_limit_scope_the_audit_learned(
    practicehub_sandbox_factory, tmp_path, scope, expected_rate, words
):
    sandbox = practicehub_sandbox_factory(api_keys=("key-a", "key-b"), rate=20.0, burst=2, rate_scope=scope)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(_config(sandbox) | {"requests_per_second": 20.0}))

    assert main(["--config", str(config_path), "--out", str(tmp_path / "audit")]) == 0

    estimate = json.loads((tmp_path / "audit" / "practicehub-audit.json").read_text())["extraction_estimate"]
    assert (estimate["rate_limit_scope"], estimate["rate_limit_scope_basis"]) == (scope, "learned")
    assert estimate["requests_per_second"] == expected_rate
    assert estimate["minimum_seconds"] == round(estimate["pages"] / expected_rate, 1)
    assert words in (tmp_path / "audit" / "practicehub-audit.md").read_text()
    assert sandbox.stats()["status_counts"].get("429", 0) <= 2
