"""Sample mode (`sample_records`, for `meltano run propose-mapping`) and the tap's private outputs."""

from __future__ import annotations

import stat

from testkit.tap_run import STREAM_ORDER, tap_config


def test_sample_mode_reads_only_the_first_pages_and_keeps_no_bookmark(practicehub_sandbox, tap_runner):
    practicehub_sandbox.reset_stats()
    run = tap_runner(tap_config(practicehub_sandbox, sample_records=4))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.schema_order == STREAM_ORDER
    for stream in STREAM_ORDER:
        source = {row["id"] for row in practicehub_sandbox.dataset[stream]}
        sampled = [row["id"] for row in run.records[stream]]
        assert len(sampled) == len(set(sampled)) == min(4, len(source)) and set(sampled) <= source, stream
    assert practicehub_sandbox.stats()["requests"] == len(STREAM_ORDER)  # one page each, nothing ahead
    bookmarks = [entry for state in run.states for entry in (state.get("bookmarks") or {}).values()]
    assert not any("replication_key_value" in entry for entry in bookmarks)


def test_sample_mode_follows_next_links_past_a_page(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(dataset="demo")
    run = tap_runner(tap_config(sandbox, sample_records=130))
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records["patients"]) == 130
    assert len({row["id"] for row in run.records["patients"]}) == 130


def test_downloads_and_their_folder_are_private(practicehub_sandbox, tap_runner, tmp_path):
    files_dir = tmp_path / "output" / "files"
    run = tap_runner(tap_config(practicehub_sandbox, download_files=True, files_dir=str(files_dir)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert stat.S_IMODE(files_dir.stat().st_mode) == stat.S_IMODE((tmp_path / "output").stat().st_mode) == 0o700
    saved = list(files_dir.iterdir())
    assert saved and {stat.S_IMODE(path.stat().st_mode) for path in saved} == {0o600}
