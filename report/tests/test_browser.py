"""The page in headless Chromium: the on-load check finds every chart drawn with a non-zero size."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package "
                                "'chromium', /usr/bin/chromium): the headless rendering check cannot run")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60)


def test_every_chart_is_drawn(make_report, report_inputs, tmp_path):
    _, _, html_path, _ = make_report(report_inputs)
    charts_in_file = html_path.read_text("utf-8").count('<svg class="chart"')
    assert charts_in_file == 4  # records (source, load), throughput, budget
    result = chromium(tmp_path, "--dump-dom", html_path.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body, result.stdout[:500]
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    assert attributes.get("data-drawn") == "yes", attributes
    assert attributes["data-charts"] == attributes["data-charts-drawn"] == str(charts_in_file)
    sizes = re.findall(r'data-size="(\d+)x(\d+)"', result.stdout)
    assert len(sizes) == charts_in_file
    assert all(int(width) > 100 and int(height) > 40 for width, height in sizes), sizes


def test_screenshot_is_not_blank(make_report, report_inputs, tmp_path):
    _, _, html_path, _ = make_report(report_inputs)
    shot = tmp_path / "report.png"
    result = chromium(tmp_path, "--window-size=1000,2400", f"--screenshot={shot}", html_path.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 2400)
    assert len(data) > 50_000  # text, tables and charts; a blank page compresses to a few KB
