"""Test support shared by every plugin's own tests and the root suites: sandbox fixtures, the Pipedrive spec
oracle, run helpers for each plugin, the golden practice and the hostile corpus.

Development only: no plugin imports it; each plugin's `tests/conftest.py` loads `testkit.pytest_plugin`.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO.parent / "shared" / "pipedrive"  # the official specs sit beside the checkout, never inside
HOSTILE_PRACTICE = Path(__file__).resolve().parent / "corpus" / "hostile_practice.json"
