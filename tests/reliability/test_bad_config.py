"""A wrong setting stops the pipeline before any Pipedrive write, with one clear message naming the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.reliability.checks import api_writes
from tests.reliability.conftest import start_pipedrive, start_practicehub
from tests.reliability.pipeline import Workspace


def unconfirmed_copy(mapping: Path, folder: Path) -> Path:
    """The confirmed mapping with its `confirmed:` block removed, as if nobody had reviewed it."""
    folder.mkdir(parents=True, exist_ok=True)
    text = mapping.read_text(encoding="utf-8")
    copy = folder / "unconfirmed.yml"
    copy.write_text(re.split(r"(?m)^confirmed\s*:", text)[0], encoding="utf-8")
    return copy


# case -> (the stage that must stop it, config changes, words its one clear message must hold).
CASES = {
    "wrong_region": (
        "tap",
        {"tap": {"base_url": None, "account_domain": "demo", "region": "mars"}},
        ["region", "mars", "neptune"],
    ),
    "bad_practicehub_key": ("tap", {"tap": {"api_keys": ["ph-wrong-key"]}}, ["`api_keys`", "401"]),
    "bad_pipedrive_token": ("target", {"target": {"api_token": "pd-wrong-token"}}, ["api_token", "401"]),
    "missing_fallback_owner": (
        "target",
        {"target": {"fallback_owner_email": None}},
        ["fallback_owner_email"],
    ),
    "unknown_fallback_owner": (
        "target",
        {"target": {"fallback_owner_email": "nobody@example.com"}},
        ["fallback_owner_email", "nobody@example.com"],
    ),
    "unconfirmed_map": (
        "mapper",
        {"mapper": {"mapping_file": "UNCONFIRMED"}},
        ["not confirmed", "map-practicehub-pipedrive confirm --mapping"],
    ),
    "phi_without_baa": (
        "mapper",
        {"mapper": {"phi_policy": "include", "baa_reference": None}},
        ["baa_reference"],
    ),
}


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory):
    """One pair for the module: no case may write, and each one reads the request log from its own mark."""
    practicehub = start_practicehub("tiny")
    pipedrive = start_pipedrive(tmp_path_factory.mktemp("bad-config") / "pipedrive.sqlite3")
    yield practicehub, pipedrive
    practicehub.stop()
    pipedrive.stop()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_setting_stops_before_any_write(case, sandboxes, tmp_path, confirmed_mapping):
    stage, changes, words = CASES[case]
    practicehub, pipedrive = sandboxes
    if changes.get("mapper", {}).get("mapping_file") == "UNCONFIRMED":
        changes = {"mapper": {"mapping_file": str(unconfirmed_copy(confirmed_mapping, tmp_path / "map"))}}
    ws = Workspace(tmp_path / "ws", practicehub, pipedrive, confirmed_mapping)
    for section, values in changes.items():
        config = {"tap": ws.tap_config, "mapper": ws.mapper_config, "target": ws.target_config}[section]
        for key, value in values.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
    mark = len(pipedrive.requests_log())

    result = ws.run(timeout=120)

    assert result.returncodes[stage] != 0, result.describe()
    assert api_writes(pipedrive.requests_log(mark)) == []
    message = result.stderr[stage]
    for word in words:
        assert word in message, f"{case}: {word!r} not in {stage} stderr: {message[-1500:]}"
    assert "Traceback" not in message, f"{case}: a traceback instead of one clear message: {message[-1500:]}"
    assert (
        not (ws.target_state_dir / "manifest.jsonl").exists()
        or (ws.target_state_dir / "manifest.jsonl").read_text() == ""
    )
