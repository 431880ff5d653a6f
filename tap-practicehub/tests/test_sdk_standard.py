"""The Singer SDK's standard tap tests, against one tiny sandbox started for this module."""

from __future__ import annotations

import atexit

import pytest
from practicehub_sandbox.data import load_dataset
from practicehub_sandbox.runner import run_in_thread
from practicehub_sandbox.settings import SandboxSettings
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_practicehub.tap import TapPracticeHub

# get_tap_test_class needs the config when the class is built (at import), so the sandbox starts here
# rather than in a fixture; the module-scoped fixture below stops it after this module's tests.
_SANDBOX = run_in_thread(load_dataset("tiny", 0), SandboxSettings(api_keys=("sdk-test-key",), rate=500.0, burst=500))
atexit.register(_SANDBOX.stop)

CONFIG = {
    "base_url": _SANDBOX.base_url,
    "api_keys": ["sdk-test-key"],
    "app_details": "sdk-standard-tests=tests@example.com",
    "requests_per_second": 500.0,
    "page_size": 10,
}

_StandardTests = get_tap_test_class(TapPracticeHub, config=CONFIG, suite_config=SuiteConfig(max_records_limit=50))


class TestTapPracticeHub(_StandardTests):
    """Every standard test runs; none is skipped."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _stop_sandbox_after_class(cls):
        yield
        _SANDBOX.stop()
