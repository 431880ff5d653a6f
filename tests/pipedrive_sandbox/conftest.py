"""The official specs, loaded once per session (they are large)."""

from __future__ import annotations

from pathlib import Path

import pytest

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "pipedrive"


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    if not (SPEC_DIR / "v2.yaml").is_file():
        pytest.skip(f"Pipedrive OpenAPI specs not found at {SPEC_DIR} (the shared folder beside the checkout)")
    return SPEC_DIR


@pytest.fixture(scope="session")
def spec_costs(spec_dir) -> dict[tuple[str, str, str], int]:
    """(version, METHOD, path) → x-token-cost, read from the spec files themselves."""
    import yaml

    costs = {}
    for version in ("v1", "v2"):
        spec = yaml.load((spec_dir / f"{version}.yaml").read_text(), Loader=yaml.CSafeLoader)
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "x-token-cost" in operation:
                    costs[(version, method.upper(), path)] = operation["x-token-cost"]
    return costs
