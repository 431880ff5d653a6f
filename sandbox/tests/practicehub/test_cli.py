"""The command line contract: practicehub-sandbox --port 0 ... prints one ready line and serves 127.0.0.1."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import requests

from .helpers import APP_DETAILS


def test_cli_starts_prints_ready_line_and_serves(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(dataset="tiny", api_keys=("k1", "k2"), rate=50.0, subprocess=True)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", sandbox.base_url)
    response = requests.get(
        f"{sandbox.base_url}/patients", headers={"x-practicehub-key": "k2", "x-app-details": APP_DETAILS}, timeout=10
    )
    assert response.status_code == 200 and response.json()["total_entries"] == 20
    assert sandbox.stats()["requests"] == 1


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) of sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_cli_binds_loopback_only(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(subprocess=True)
    port = int(sandbox.base_url.rsplit(":", 1)[1].split("/")[0])
    if Path("/proc/net/tcp").exists():
        assert _listening_addresses(port) == {"0100007F"}, "listens on 127.0.0.1 and nothing else"
    other_addresses = {
        info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    } - {"127.0.0.1", "127.0.1.1"}
    for address in other_addresses:
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((address, port)) != 0, f"reachable on {address}"
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex(("127.0.0.1", port)) == 0


def test_cli_options_reach_the_server(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(
        rate=3.0, burst=2, rate_scope="key", retry_after=False, unstable_paging=0.25, url_ttl=60,
        timezone="Europe/London", seed=4, subprocess=True,
    )
    settings = sandbox.control.settings()
    assert settings["rate"] == 3.0 and settings["burst"] == 2 and settings["rate_scope"] == "key"
    assert settings["retry_after"] is False and settings["unstable_paging"] == 0.25
    assert settings["url_ttl"] == 60 and settings["timezone"] == "Europe/London" and settings["seed"] == 4
    assert settings["api_keys"] == 1, "the keys themselves are never shown"


def test_cli_rejects_bad_options_with_a_clear_message():
    command = str(Path(sys.executable).parent / "practicehub-sandbox")
    for args, problem in (
        (["--api-keys", "k", "--dataset", "nope"], "unknown dataset"),
        (["--api-keys", "k", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--api-keys", "k", "--fault-5xx", "1.5"], "fraction"),
        (["--dataset", "tiny"], "--api-keys"),
    ):
        result = subprocess.run([command, "--port", "0", *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, args
        assert problem in result.stderr, (args, result.stderr)
        assert result.stdout == ""


def test_cli_reports_a_port_in_use():
    command = str(Path(sys.executable).parent / "practicehub-sandbox")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [command, "--port", str(port), "--dataset", "tiny", "--api-keys", "secret-key"],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "secret-key" not in result.stderr + result.stdout


def test_cli_prints_only_the_ready_line_and_stops_cleanly_on_sigterm():
    command = str(Path(sys.executable).parent / "practicehub-sandbox")
    process = subprocess.Popen(
        [command, "--port", "0", "--dataset", "tiny", "--api-keys", "secret-key", "--rate", "50", "--burst", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        assert re.fullmatch(r"practicehub-sandbox listening on http://127\.0\.0\.1:\d+/api\n", line)
        base_url = line.rsplit(" ", 1)[1].strip()
        headers = {"x-practicehub-key": "secret-key", "x-app-details": APP_DETAILS}
        assert requests.get(f"{base_url}/patients", headers=headers, timeout=10).status_code == 200
        assert requests.get(f"{base_url}/patients", headers={}, timeout=10).status_code == 401
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert stdout == ""
    assert "secret-key" not in stderr and "@" not in stderr
