"""Settings errors name the setting to fix; refused credentials stop the run at once, keys never logged."""

from __future__ import annotations

from tests.tap.conftest import tap_config


def test_unknown_region_lists_the_valid_regions(tap_runner):
    config = {"account_domain": "demo", "region": "mars", "api_keys": ["k"], "app_details": "a=b@example.com"}
    run = tap_runner(config)
    assert run.returncode != 0
    assert "'mars' is not a PracticeHub region; valid regions: neptune, apollo, vulcan, jupiter" in run.stderr
    assert not run.messages


def test_missing_location_and_bad_app_details_are_explained(tap_runner):
    run = tap_runner({"api_keys": ["k"], "app_details": "no-email-here"})
    assert run.returncode != 0
    assert "Set `account_domain` and `region`" in run.stderr
    assert "`app_details` must be `<app name>=<contact email>`" in run.stderr


def test_bad_key_stops_at_once_naming_api_keys(practicehub_sandbox, tap_runner):
    secret = "definitely-not-a-valid-key-8c1f"
    run = tap_runner(tap_config(practicehub_sandbox, api_keys=[secret]))
    assert run.returncode != 0
    assert "`api_keys`" in run.stderr and "key#1" in run.stderr and "HTTP 401" in run.stderr
    assert secret not in run.stderr
    assert not [m for m in run.messages if m["type"] == "RECORD"]
    assert practicehub_sandbox.stats()["requests"] <= 2  # stopped on the first refusal, no retries


def test_one_good_and_one_bad_key_still_fails_loudly(practicehub_sandbox, tap_runner):
    run = tap_runner(tap_config(practicehub_sandbox, api_keys=[practicehub_sandbox.api_keys[0], "wrong-key"]))
    assert run.returncode != 0
    assert "key#2" in run.stderr and "`api_keys`" in run.stderr
    assert "wrong-key" not in run.stderr


def test_app_details_refusal_names_app_details(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(app_name="registered-app")
    run = tap_runner(tap_config(sandbox, app_details="other-app=it@example.com"))
    assert run.returncode != 0
    assert "`app_details`" in run.stderr


def test_region_builds_the_practicehub_url():
    from tap_practicehub.settings import base_url

    assert base_url({"account_domain": "demo", "region": "neptune"}) == "https://demo.neptune.practicehub.io/api"
