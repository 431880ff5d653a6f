"""Settings errors name the setting to fix; refused credentials stop the run at once, keys never logged."""

from __future__ import annotations

import pytest
from testkit.tap_run import tap_config

EXIT_CONFIG = 2  # wrong setting or refused credentials, as for target-pipedrive


def assert_one_clear_message(run, *words: str) -> None:
    """Exit 2 and a last line naming the setting: no traceback burying it."""
    assert run.returncode == EXIT_CONFIG, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    last_line = run.stderr.strip().splitlines()[-1]
    assert last_line.startswith("tap-practicehub "), last_line
    for word in words:
        assert word in last_line, last_line


def test_unknown_region_lists_the_valid_regions(tap_runner):
    config = {"account_domain": "demo", "region": "mars", "api_keys": ["k"], "app_details": "a=b@example.com"}
    run = tap_runner(config)
    assert_one_clear_message(
        run, "'mars' is not a PracticeHub region; valid regions: neptune, apollo, vulcan, jupiter"
    )
    assert not run.messages


def test_missing_location_and_bad_app_details_are_explained(tap_runner):
    run = tap_runner({"api_keys": ["k"], "app_details": "no-email-here"})
    assert_one_clear_message(
        run, "Set `account_domain` and `region`", "`app_details` must be `<app name>=<contact email>`"
    )


@pytest.mark.parametrize("keys", ["not-a-list-key-5e2a", ["good-enough", 73914260]], ids=["string", "number"])
def test_wrongly_typed_api_keys_are_named_but_not_shown(keys, tap_runner):
    run = tap_runner(
        {"base_url": "http://127.0.0.1:9/api", "api_keys": keys, "app_details": "a=b@example.com"}
    )
    assert_one_clear_message(run, "`api_keys` must be a list")
    assert "not-a-list-key-5e2a" not in run.stderr and "73914260" not in run.stderr


def test_bad_key_stops_at_once_naming_api_keys(practicehub_sandbox, tap_runner):
    secret = "definitely-not-a-valid-key-8c1f"
    run = tap_runner(tap_config(practicehub_sandbox, api_keys=[secret]))
    assert_one_clear_message(run, "`api_keys`", "key#1", "HTTP 401")
    assert secret not in run.stderr
    assert not [m for m in run.messages if m["type"] == "RECORD"]
    assert practicehub_sandbox.stats()["requests"] <= 2  # stopped on the first refusal, no retries


def test_bad_key_in_connection_test_is_one_clear_message(practicehub_sandbox, tap_runner):
    secret = "also-not-a-valid-key-41d7"
    run = tap_runner(tap_config(practicehub_sandbox, api_keys=[secret]), args=("--test",))
    assert_one_clear_message(run, "`api_keys`", "HTTP 401")
    assert secret not in run.stderr


def test_one_good_and_one_bad_key_still_fails_loudly(practicehub_sandbox, tap_runner):
    run = tap_runner(tap_config(practicehub_sandbox, api_keys=[practicehub_sandbox.api_keys[0], "wrong-key"]))
    assert_one_clear_message(run, "key#2", "`api_keys`")
    assert "wrong-key" not in run.stderr


def test_app_details_refusal_names_app_details(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(app_name="registered-app")
    run = tap_runner(tap_config(sandbox, app_details="other-app=it@example.com"))
    assert_one_clear_message(run, "`app_details`")


def test_region_builds_the_practicehub_url():
    from tap_practicehub.settings import base_url

    assert (
        base_url({"account_domain": "demo", "region": "neptune"}) == "https://demo.neptune.practicehub.io/api"
    )
