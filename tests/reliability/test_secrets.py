"""No key or token in anything a run leaves behind, no patient data in logs, private files, loopback only."""

from __future__ import annotations

import stat
from pathlib import Path

from practicehub_sandbox.data import load_dataset

from tests.reliability.conftest import Baseline

LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
TCP_LISTEN = "0A"


def left_behind(baseline: Baseline) -> list[Path]:
    """Every file of the run: logs of all three processes and commands, ledger, manifest, reports, skip file."""
    ws = baseline.workspace
    folders = [ws.logs_dir, ws.target_state_dir, ws.mapper_reports, ws.root / "mapper-state"]
    files = [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]
    return files + [ws.state_file]


def secrets_of(baseline: Baseline) -> list[str]:
    ws = baseline.workspace
    return [*ws.practicehub.api_keys, ws.pipedrive.api_token, *ws.pipedrive.user_tokens.values()]


def phi_of_tiny_practice() -> list[str]:
    """Names, e-mails, dates of birth and MRNs of the tiny practice's patients."""
    values = []
    for patient in load_dataset("tiny", 0)["patients"]:
        values.append(f"{patient['first_name']} {patient['last_name']}")
        values += [patient["email"], patient["dob"]]
        values += [f["value"] for f in patient.get("custom_fields") or [] if f["name"] == "mrn"]
    return [v for v in values if v]


def test_no_key_or_token_in_any_file_of_a_run(baseline):
    files = left_behind(baseline)
    names = {p.name for p in files}
    assert {"ledger.sqlite", "manifest.jsonl", "skipped.jsonl", "summary.json", "reconciliation.json"} <= names
    assert any(p.name.endswith("-target.err") for p in files) and any(p.name.endswith("-tap.err") for p in files)
    found = []
    for path in files:
        content = path.read_bytes()
        found += [f"{path.name}: {secret[:8]}..." for secret in secrets_of(baseline) if secret.encode() in content]
    assert found == []


def test_no_patient_data_in_any_log(baseline):
    logs = baseline.workspace.log_files()
    assert len(logs) >= 4  # the three processes' stderr and the verify command's
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    phi = phi_of_tiny_practice()
    assert len(phi) >= 60
    assert [value for value in phi if value in text] == []


def test_target_files_holding_ids_or_phi_are_owner_only(baseline):
    state_dir = baseline.workspace.target_state_dir
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert len(files) >= 6
    loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files if stat.S_IMODE(p.stat().st_mode) != 0o600}
    assert loose == {}


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on `port` (IPv4 and IPv6 tables)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            address, state = parts[1], parts[3]
            host, port_hex = address.rsplit(":", 1)
            if state == TCP_LISTEN and int(port_hex, 16) == port:
                found.add(host)
    return found


def test_sandboxes_listen_on_loopback_only(baseline):
    ws = baseline.workspace
    for url in (ws.practicehub.base_url, ws.pipedrive.base_url):
        assert url.startswith("http://127.0.0.1:")
        port = int(url.split(":")[2].split("/")[0])
        assert listening_addresses(port) == {LOOPBACK_HEX}, url
