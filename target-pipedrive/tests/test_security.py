"""The API token stays in the request header; private files are owner-only; logs carry no patient data."""

from __future__ import annotations

from testkit.target_run import live


def test_token_never_written_and_files_are_private(harness):
    data = harness.practice()
    data["deals"][0]["status"] = "postponed"  # a rejection: error text goes to the skip file
    mark = harness.log_mark()
    result = harness.run(data, in_process=False)  # the real command, its real log stream
    assert result.returncode == 0
    verify = harness.command("verify")
    rollback = harness.command("rollback", "--all", "--dry-run")
    token = harness.sandbox.api_token

    outputs = [result.stdout, result.stderr, verify.stdout, verify.stderr, rollback.stdout, rollback.stderr]
    assert all(token not in text for text in outputs)
    written = [p for p in harness.state_dir.rglob("*") if p.is_file()]
    assert {"ledger.sqlite", "manifest.jsonl", "skipped.jsonl", "summary.json", "field_map.json"} <= {
        p.name for p in written
    }
    for path in written:
        assert token.encode() not in path.read_bytes(), path.name
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"

    log = harness.sandbox.requests_log(mark)
    assert log and all("api_token" not in entry["path"] for entry in log)

    # Patient data (names, e-mails, MRNs) never reaches the log stream; source ids and counts do.
    patient = data["persons"][0]
    for secret in (patient["name"], patient["emails"][0]["value"], patient["custom_fields"]["mrn"]):
        assert secret not in result.stderr
    assert any(p["name"] == patient["name"] for p in live(harness.sandbox.snapshot(), "persons"))
