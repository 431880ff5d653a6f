"""The cutover on the report: conflicts, records deleted in PracticeHub after landing, and verify's team edits
apart from wrong landings; names and ids only, never values."""

from __future__ import annotations


def test_conflicts_deletions_and_team_edits_are_listed_apart_from_failures(make_report, report_inputs):
    state = report_inputs["state"]
    state["summary.json"]["conflicts"] = [
        {"entity": "persons", "source_id": "patients:7", "pipedrive_id": 17, "field": "phones", "policy": "report",
         "resolution": "Pipedrive's value kept, to decide (on_conflict: source_wins or pipedrive_wins)"}]
    state["summary.json"]["source_deletions"] = {"policy": "archive", "by_stream": {"patients": 1}, "records": [
        {"source_id": "patients:9", "stream": "patients", "how": "marked_deleted", "action": "archived",
         "in_pipedrive": {"deals": [31, 32], "persons": [19]}, "detail": "2 deal(s) archived"}]}
    # verify: one field landed wrong (a failure) and one the team changed after landing (reported apart)
    state["verify_diff.csv"] = (
        "entity,source_id,pipedrive_id,field,field_label,classification,sent,actual\n"
        'persons,patients:3,13,emails,,landed_wrong,"[""a@x.example""]","[]"\n'
        'deals,appointments:4,24,title,,changed_in_pipedrive,"""Visit""","""Renamed"""\n')
    state["verify_summary.json"].update(mismatches=1, mismatched_fields=["emails"], changed_in_pipedrive=1,
                                        changed_in_pipedrive_fields=["deals.title"])
    page, summary, html_path, _ = make_report(report_inputs)
    assert summary["input_problems"] == []
    assert page.number("cutover.conflicts") == 1 and page.number("cutover.source_deletions") == 1
    assert page.number("verify.total_mismatches") == 1 and page.number("verify.changed_in_pipedrive") == 1
    assert summary["verify"]["mismatches"] == [{"entity": "persons", "field": "emails", "count": 1}]
    html = html_path.read_text("utf-8")
    assert "patients:7" in html and "phones" in html and "deals 31, 32" in html and "on_source_delete" in html
    assert "Renamed" not in html and "a@x.example" not in html  # values stay in the private files
