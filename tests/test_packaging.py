"""The plugins as Meltano Hub and PyPI see them: licence, metadata, Hub definitions, meltano.yml, warnings."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLUGINS = {"tap-practicehub": "extractors", "target-pipedrive": "loaders", "map-practicehub-pipedrive": "mappers"}
PYTHONS = ["3.11", "3.12", "3.13"]
_spec = importlib.util.spec_from_file_location("hub_definitions", ROOT / "scripts" / "hub_definitions.py")
hub_definitions = sys.modules.setdefault("hub_definitions", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(hub_definitions)


def pyprojects() -> dict[str, dict]:
    found = {}
    for path in ROOT.glob("*/pyproject.toml"):
        project = tomllib.loads(path.read_text())["project"]
        if project["name"] in PLUGINS:
            found[project["name"]] = {**project, "folder": path.parent}
    assert set(found) == set(PLUGINS)
    return found


@pytest.fixture(scope="module")
def abouts() -> dict[str, dict]:
    return {name: hub_definitions.about(name) for name in PLUGINS}  # cached: the script's own calls reuse them


def meltano_plugin(name: str) -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = [plugin for kind in project["plugins"].values() for plugin in kind]
    return next(plugin for plugin in plugins if plugin["name"] == name)


def test_licence_is_the_full_apache_2_text_and_every_package_ships_it():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 11000
    for name, project in pyprojects().items():
        assert project["license"] == "Apache-2.0", name
        for licence_file in project["license-files"]:
            assert (project["folder"] / licence_file).read_text() == text, name  # a link to the root LICENSE


def test_package_metadata_is_complete_and_names_one_repository():
    urls = set()
    for name, project in pyprojects().items():
        assert project["requires-python"] == ">=3.11,<3.14", name
        assert (project["folder"] / project["readme"]).is_file(), name
        assert project["authors"] and project["keywords"] and "meltano_sdk" in project["keywords"], name
        for version in PYTHONS:
            assert f"Programming Language :: Python :: {version}" in project["classifiers"], (name, version)
        assert {"Homepage", "Repository", "Documentation", "Issues"} <= set(project["urls"]), name
        urls.add(project["urls"]["Repository"])
        assert project["urls"]["Documentation"].startswith(project["urls"]["Repository"]), name
    assert len(urls) == 1, urls


def test_singer_sdk_is_a_compatible_range_and_backoff_comes_from_the_sdk():
    for name, project in pyprojects().items():
        dependencies = project["dependencies"]
        sdk = [d for d in dependencies if re.match(r"singer-sdk\b", d)]
        assert len(sdk) == 1 and re.fullmatch(r"singer-sdk(\[msgspec\])?>=0\.54\.2,<0\.55", sdk[0]), (name, sdk)
        assert not [d for d in dependencies if re.match(r"(python-)?backoff\b", d)], name
    for package in ("tap_practicehub", "target_pipedrive"):  # nothing imports it directly
        for path in (ROOT / pyprojects()[package.replace("_", "-")]["folder"] / package).rglob("*.py"):
            assert not re.search(r"^\s*(import|from) backoff\b", path.read_text(), re.M), path


def test_about_declares_python_3_11_to_3_13(abouts):
    for name, about in abouts.items():
        assert about["supported_python_versions"] == PYTHONS, name


def test_committed_hub_definitions_are_what_the_script_generates():
    for path, text in hub_definitions.rendered_all().items():
        assert path.is_file(), f"{path.name} missing: run scripts/hub_definitions.py"
        assert path.read_text() == text, f"{path.name} is stale: run scripts/hub_definitions.py"


def test_hub_definitions_match_about_and_the_hub_format(abouts):
    for name, about in abouts.items():
        definition = yaml.safe_load((ROOT / "hub" / f"{name}.yml").read_text())
        assert {"name", "namespace", "variant", "label", "pip_url", "repo", "capabilities", "settings"} <= set(definition)
        assert sorted(definition["capabilities"]) == sorted(about["capabilities"]), name
        settings = {setting["name"]: setting for setting in definition["settings"]}
        properties = about["settings"]["properties"]
        assert list(settings) == list(properties), name
        for setting_name, setting in settings.items():
            spec = properties[setting_name]
            assert setting["description"] and setting["label"], (name, setting_name)
            assert setting.get("sensitive", False) == bool(spec.get("secret")), (name, setting_name)
            assert setting["kind"] in {"string", "integer", "boolean", "options", "array", "object", "date_iso8601"}
        for group in definition.get("settings_group_validation", []):
            assert set(group) <= set(settings), (name, group)
        assert set(about["settings"].get("required", [])) <= set.intersection(
            *map(set, definition["settings_group_validation"])), name
    assert settings_of("tap-practicehub")["api_keys"]["sensitive"] is True
    assert settings_of("target-pipedrive")["api_token"]["sensitive"] is True


def settings_of(name: str) -> dict[str, dict]:
    definition = yaml.safe_load((ROOT / "hub" / f"{name}.yml").read_text())
    return {setting["name"]: setting for setting in definition["settings"]}


def test_option_values_the_plugin_checks_itself_are_the_hub_options():
    from tap_practicehub.pacing import SCOPES
    from tap_practicehub.settings import REGIONS

    tap = settings_of("tap-practicehub")
    assert [o["value"] for o in tap["region"]["options"]] == list(REGIONS)
    assert sorted(o["value"] for o in tap["rate_limit_scope"]["options"]) == sorted(SCOPES)


def test_meltano_yml_lists_every_capability_and_setting_with_the_hub_kind(abouts):
    for name, about in abouts.items():
        plugin = meltano_plugin(name)
        assert sorted(plugin["capabilities"]) == sorted(about["capabilities"]), name
        listed = {setting["name"]: setting for setting in plugin["settings"]}
        assert set(listed) == set(about["settings"]["properties"]), (name, set(listed) ^ set(about["settings"]["properties"]))
        for setting_name, hub_setting in settings_of(name).items():
            setting = listed[setting_name]
            assert setting["kind"] == hub_setting["kind"], (name, setting_name, setting["kind"], hub_setting["kind"])
            assert bool(setting.get("sensitive")) == bool(hub_setting.get("sensitive")), (name, setting_name)
            if setting["kind"] == "options":
                assert [o["value"] for o in setting["options"]] == [o["value"] for o in hub_setting["options"]]
    assert meltano_plugin("target-pipedrive")["settings"] and all(
        s["kind"] != "decimal" for n in PLUGINS for s in meltano_plugin(n)["settings"])


def _quiet_env() -> dict:
    return {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"}


def _no_warnings(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr[-3000:]


@pytest.mark.parametrize("name", list(PLUGINS))
def test_about_prints_no_deprecation_warning(name):
    done = subprocess.run([str(BIN / name), "--about"], capture_output=True, text=True, timeout=120, env=_quiet_env())
    _no_warnings(done)


def test_a_short_tap_sync_prints_no_deprecation_warning(practicehub_sandbox, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_keys": list(practicehub_sandbox.api_keys), "app_details": "tests=t@example.com",
                                  "base_url": practicehub_sandbox.base_url, "requests_per_second": "100"}))
    done = subprocess.run([str(BIN / "tap-practicehub"), "--config", str(config)], capture_output=True, text=True,
                          timeout=120, env=_quiet_env(), cwd=tmp_path)
    _no_warnings(done)
    assert '"type":"STATE"' in done.stdout.replace(" ", "")


def test_a_target_command_with_config_files_prints_no_deprecation_warning(tmp_path):
    """`--config FILE` for the plugin commands: the SDK deprecates handing it paths, so the target reads them."""
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"api_token": "test-token", "base_url": "http://127.0.0.1:9", "request_timeout": 5}))
    override = tmp_path / "override.json"
    override.write_text(json.dumps({"state_dir": str(tmp_path / "state"), "request_timeout": "7.5"}))
    done = subprocess.run([str(BIN / "target-pipedrive"), "verify", "--config", str(base), "--config", str(override)],
                          capture_output=True, text=True, timeout=120, env=_quiet_env())
    assert done.returncode == 2, done.stderr  # configuration accepted; nothing loaded yet
    assert "nothing to verify yet" in done.stderr and str(tmp_path / "state") in done.stderr  # the later file won
    assert "Warning" not in done.stderr and "test-token" not in done.stderr


def test_an_unreadable_target_config_file_is_one_line(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"api_token": "secret-token"')
    done = subprocess.run([str(BIN / "target-pipedrive"), "verify", "--config", str(broken)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "broken.json" in done.stderr, done.stderr
    assert "secret-token" not in done.stderr


def _meltano_project(tmp_path: Path) -> tuple[Path, dict]:
    """The project's meltano.yml in a scratch folder, its plugins run from this venv (PATH), not installed."""
    project = tmp_path / "project"
    project.mkdir()
    text = (ROOT / "meltano.yml").read_text()
    text = re.sub(r"^      pip_url: .*\n", "", text, flags=re.M)
    (project / "meltano.yml").write_text(text)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state"),
        "UV_CACHE_DIR": str(tmp_path / "uv"), "TMPDIR": str(tmp_path),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_CLI_DISABLE_VERSION_CHECK": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return project, env


@pytest.mark.slow
def test_number_settings_from_env_vars_work_through_meltano(practicehub_sandbox, tmp_path):
    """`kind: decimal` + TAP_PRACTICEHUB_REQUESTS_PER_SECOND crashed Meltano 4.4 (Decimal is not JSON)."""
    project, env = _meltano_project(tmp_path)
    env |= {
        "PRACTICEHUB_BASE_URL": practicehub_sandbox.base_url,
        "PRACTICEHUB_API_KEYS": json.dumps(list(practicehub_sandbox.api_keys)),
        "PRACTICEHUB_APP_DETAILS": "meltano-test=tests@example.com",
        "TAP_PRACTICEHUB_REQUESTS_PER_SECOND": "150.5", "TAP_PRACTICEHUB_PACING_MARGIN": "0.01",
        "TAP_PRACTICEHUB_REQUEST_TIMEOUT": "30", "TARGET_PIPEDRIVE_REQUEST_TIMEOUT": "12.5",
    }
    meltano = str(BIN / "meltano")
    printed = subprocess.run([meltano, "config", "print", "tap-practicehub"], cwd=project, env=env,
                             capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr[-3000:]
    config = json.loads(printed.stdout[printed.stdout.index("{"):])
    assert config["requests_per_second"] == "150.5"  # Meltano passes the text; the tap reads the number
    target = subprocess.run([meltano, "config", "print", "target-pipedrive"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=120)
    assert target.returncode == 0, target.stderr[-3000:]
    synced = subprocess.run([meltano, "invoke", "tap-practicehub"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=300)
    assert synced.returncode == 0, synced.stderr[-3000:]
    assert '"type":"STATE"' in synced.stdout.replace(" ", "")
    env["TAP_PRACTICEHUB_REQUESTS_PER_SECOND"] = "fast"
    refused = subprocess.run([meltano, "invoke", "tap-practicehub"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode != 0 and "requests_per_second" in refused.stderr
    assert "Traceback" not in refused.stderr
