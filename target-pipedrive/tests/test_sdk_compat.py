"""The singer-sdk internals target-pipedrive relies on (target_pipedrive/sdk_compat.py), checked against the
installed SDK: an upgrade that renames or reshapes one fails here, by name."""

from __future__ import annotations

from inspect import Parameter
from pathlib import Path

import pytest
import target_pipedrive
from singer_sdk.exceptions import ConfigValidationError
from target_pipedrive import sdk_compat
from target_pipedrive.target import TargetPipedrive
from testkit.sdk_private_api import private_member_problem, private_uses

EMPTY = Parameter.empty
SIGNATURES = {
    "_write_state_message": [("self", "POSITIONAL_OR_KEYWORD", EMPTY), ("state", "POSITIONAL_OR_KEYWORD", EMPTY)],
    "_validate_config": [("self", "POSITIONAL_OR_KEYWORD", EMPTY), ("raise_errors", "KEYWORD_ONLY", True)],
}
# Modules still reading SDK internals directly (each should go through sdk_compat.py).
NOT_YET_MOVED: set[str] = set()


@pytest.fixture
def config(tmp_path) -> dict:
    return {"api_token": "test-token", "base_url": "http://127.0.0.1:9", "state_dir": str(tmp_path / "state")}


@pytest.mark.parametrize(("owner", "name", "why"), sdk_compat.PRIVATE_API, ids=[n for _, n, _ in sdk_compat.PRIVATE_API])
def test_each_private_sdk_member_still_exists(owner, name, why):
    problem = private_member_problem(owner, name, why, SIGNATURES)
    assert problem is None, problem


def test_the_target_overrides_reach_the_sdk_hooks():
    assert TargetPipedrive._write_state_message is sdk_compat.TargetHooks._write_state_message
    assert TargetPipedrive._validate_config is sdk_compat.TargetHooks._validate_config


def test_the_sink_lists_are_what_sdk_compat_expects(config):
    target = TargetPipedrive(config=config)
    assert sdk_compat.retired_sinks(target) == [] and sdk_compat.active_sinks(target) == []
    assert sdk_compat.active_sink(target, "persons") is None
    assert isinstance(target._sinks_active, dict) and isinstance(target._sinks_to_clear, list)


def test_number_settings_given_as_text_become_numbers(config, monkeypatch):
    assert TargetPipedrive(config={**config, "request_timeout": "12.5"}).settings.request_timeout == 12.5
    monkeypatch.setenv("TARGET_PIPEDRIVE_REQUEST_TIMEOUT", " 7.5")
    from_env = TargetPipedrive(config=config, parse_env_config=True)
    assert from_env.settings.request_timeout == 7.5
    monkeypatch.setenv("TARGET_PIPEDRIVE_REQUEST_TIMEOUT", "soon")
    with pytest.raises(ConfigValidationError) as raised:
        TargetPipedrive(config=config, parse_env_config=True)
    assert any("request_timeout" in error for error in raised.value.errors)


def test_no_module_but_sdk_compat_touches_sdk_internals():
    names = {name for _, name, _ in sdk_compat.PRIVATE_API}
    package = Path(target_pipedrive.__file__).parent
    assert private_uses(package, names, allowed={"sdk_compat.py", *NOT_YET_MOVED}) == []
    everywhere = private_uses(package, names, allowed={"sdk_compat.py"})
    for name in NOT_YET_MOVED:  # the allowance goes once the module no longer needs it
        assert any(use.startswith(f"{name}:") for use in everywhere), f"{name} is clean: drop it from NOT_YET_MOVED"
