"""An ignored ``updated`` filter is detected and fails loudly, naming the resource."""

from __future__ import annotations

import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from testkit.tap_run import tap_config


@pytest.fixture
def filter_dropping_proxy(practicehub_sandbox):
    """A loopback proxy in front of the sandbox that drops every filter, as PracticeHub does with bad ones.

    (The sandbox has no switch to ignore valid filters; this proxy stands in for one.)
    """
    upstream = practicehub_sandbox.root_url

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            parts = urllib.parse.urlsplit(self.path)
            kept = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k in ("page", "page_size")]
            headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-")}
            answer = requests.get(f"{upstream}{parts.path}", params=kept, headers=headers, timeout=10)
            body = answer.content
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_ignored_filter_fails_loudly(practicehub_sandbox, filter_dropping_proxy, tap_runner):
    latest = max(r["updated"] for records in practicehub_sandbox.dataset.values() for r in records)
    config = tap_config(practicehub_sandbox, base_url=filter_dropping_proxy, start_date=latest.replace(" ", "T"))
    run = tap_runner(config)
    assert run.returncode != 0
    # The first stream holding a row older than start_date names itself (locations may all be newer).
    assert re.search(r"[a-z_]+: PracticeHub returned a row \(id \d+, updated='[0-9: -]+'\) outside", run.stderr)
    assert "outside the requested filter updated=between:" in run.stderr
    assert "verify_filters" in run.stderr


def test_verify_filters_off_accepts_the_unfiltered_rows(practicehub_sandbox, filter_dropping_proxy, tap_runner):
    latest = max(r["updated"] for records in practicehub_sandbox.dataset.values() for r in records)
    config = tap_config(practicehub_sandbox, base_url=filter_dropping_proxy, start_date=latest.replace(" ", "T"),
                        verify_filters=False)
    run = tap_runner(config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records["locations"]) == len(practicehub_sandbox.dataset["locations"])
