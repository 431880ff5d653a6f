"""The singer-sdk internals tap-practicehub relies on (tap_practicehub/sdk_compat.py), checked against the
installed SDK: an upgrade that renames or reshapes one fails here, by name."""

from __future__ import annotations

from inspect import Parameter
from pathlib import Path

import pytest
import tap_practicehub
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.conform import TypeConformanceLevel
from tap_practicehub import sdk_compat
from tap_practicehub.client import PracticeHubStream
from tap_practicehub.tap import TapPracticeHub
from testkit.sdk_private_api import private_member_problem, private_uses

EMPTY = Parameter.empty
CONFIG = {"api_keys": ["test-key"], "app_details": "tests=tests@example.com", "base_url": "http://127.0.0.1:9/api"}
# The parameters each private method must keep: sdk_compat calls or overrides them with exactly these.
SIGNATURES = {
    "_increment_stream_state": [("self", "POSITIONAL_OR_KEYWORD", EMPTY), ("latest_record", "POSITIONAL_OR_KEYWORD", EMPTY),
                                ("context", "KEYWORD_ONLY", None)],
    "_write_state_message": [("self", "POSITIONAL_OR_KEYWORD", EMPTY)],
    "_validate_config": [("self", "POSITIONAL_OR_KEYWORD", EMPTY), ("raise_errors", "KEYWORD_ONLY", True)],
}


@pytest.mark.parametrize(("owner", "name", "why"), sdk_compat.PRIVATE_API, ids=[n for _, n, _ in sdk_compat.PRIVATE_API])
def test_each_private_sdk_member_still_exists(owner, name, why):
    problem = private_member_problem(owner, name, why, SIGNATURES)
    assert problem is None, problem


def test_the_stream_overrides_reach_the_sdk_hooks():
    # The mixins only work if they come before the SDK class in the MRO and the SDK still calls these names.
    assert PracticeHubStream._increment_stream_state is sdk_compat.CheckpointBookmarks._increment_stream_state
    assert TapPracticeHub._validate_config is sdk_compat.ValidatedConfig._validate_config
    assert PracticeHubStream.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.NONE


def test_a_stream_knows_its_tap_and_sends_state_on_demand(capfd):
    tap = TapPracticeHub(config=dict(CONFIG), validate_config=True)
    stream = tap.streams["locations"]
    assert sdk_compat.tap_of(stream) is tap
    stream.write_state_now()
    tap.message_writer.flush()
    assert stream.state_manager.is_flushed is True
    assert '"type":"STATE"' in capfd.readouterr().out.replace(" ", "")


def test_number_settings_given_as_text_become_numbers_and_bad_text_is_named():
    tap = TapPracticeHub(config={**CONFIG, "requests_per_second": " 2.5", "request_timeout": "30"})
    assert tap.config["requests_per_second"] == 2.5
    assert tap.config["request_timeout"] == 30.0
    assert tap.config["app_details"] == CONFIG["app_details"]  # strings that are not number settings stay
    with pytest.raises(ConfigValidationError) as raised:
        TapPracticeHub(config={**CONFIG, "pacing_margin": "a little"})
    assert any("pacing_margin" in error for error in raised.value.errors)


def test_no_module_but_sdk_compat_touches_sdk_internals():
    names = {name for _, name, _ in sdk_compat.PRIVATE_API}
    assert private_uses(Path(tap_practicehub.__file__).parent, names, allowed={"sdk_compat.py"}) == []
