"""Text from the inputs cannot inject markup, and the page holds no patient detail from the skip file."""

from __future__ import annotations

import html

ATTACK = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'


def test_names_fields_and_reasons_are_escaped(make_report, report_inputs):
    streams = report_inputs["transform"]["reconciliation.json"]["streams"]
    streams[ATTACK] = {"in": 1, "out": 0, "skipped": 1, "merged": 0}
    report_inputs["transform"]["reconciliation.json"]["records_emitted"]["skipped"] += 1
    report_inputs["state"]["skipped.jsonl"].append({"origin": "transform", "entity": ATTACK, "source_id": "x:1",
                                                    "reason": ATTACK, "run_id": "20251125T070000Z"})
    report_inputs["state"]["verify_diff.csv"] += f'persons,patients:9,19,"{ATTACK.replace(chr(34), 2 * chr(34))}",,1,2\n'
    report_inputs["state"]["verify_summary.json"]["mismatches"] = 3
    report_inputs["state"]["summary.json"]["unmatched_owners"][0]["owner_name"] = ATTACK
    report_inputs["transform"]["dedupe.json"]["merges"][0]["matched_on"] = ATTACK
    page, summary, html_path, _ = make_report(report_inputs)
    source = html_path.read_text("utf-8")
    assert "<script>alert" not in source and "<img" not in source
    assert page.tags.count("script") == 1  # only the page's own check script
    assert "img" not in page.tags
    text = "".join(page.text)
    assert text.count(ATTACK) >= 6  # shown literally: stream (twice), skip stream and reason, field, name, dedupe
    assert summary["reconciled"] is True  # the odd stream still adds up
    assert any(name.endswith(ATTACK) for name in page.metrics)  # attribute values escaped, not broken out of
    assert html.escape(ATTACK) in source


def test_skip_details_and_ids_never_reach_the_page(make_report, report_inputs):
    marker = "Jane Q Patient DOB 1980-02-03"
    for row in report_inputs["state"]["skipped.jsonl"]:
        row["detail"] = marker
        row["source_id"] = f"{row['entity']}:SECRET-ID-{id(row)}"
    report_inputs["state"]["skipped.jsonl"][0]["phone"] = "+1 555 0100"
    _, _, html_path, json_path = make_report(report_inputs)
    for path in (html_path, json_path):
        content = path.read_text("utf-8")
        assert marker not in content and "SECRET-ID" not in content and "555 0100" not in content


def test_the_page_loads_nothing_from_the_network(make_report, report_inputs):
    page, _, html_path, _ = make_report(report_inputs)
    source = html_path.read_text("utf-8")
    assert "default-src 'none'" in source
    for tag in ("link", "img", "iframe", "object", "embed"):
        assert tag not in page.tags, tag
    assert "http://" not in source.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in source
