"""Text from the inputs cannot inject markup, the page keeps its content-security policy, and the page holds no
patient detail from the skip file."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest
from markupsafe import escape
from migration_report import render
from migration_report.build import ReportInputs, build_report
from testkit import HOSTILE_PRACTICE
from testkit.report_inputs import LATEST_RUN, balanced_inputs, write_inputs

ATTACK = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'
PLACEHOLDER = "plain-value"


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
    assert str(escape(ATTACK)) in source  # Jinja2's escaping (markupsafe): &lt; &gt; &amp; &#34; &#39;


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


class Elements(HTMLParser):
    """Every element with its attributes, and every text node, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str]]]] = []
        self.texts: list[str] = []
        self.inside: list[str] = []
        self.raw: dict[str, str] = {}  # the text of <style> and <script>

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, [(name, value or "") for name, value in attrs]))
        self.inside.append(tag)

    def handle_endtag(self, tag):
        if self.inside and self.inside[-1] == tag:
            self.inside.pop()

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, [(name, value or "") for name, value in attrs]))

    def handle_data(self, data):
        self.texts.append(data)
        if self.inside and self.inside[-1] in ("style", "script"):
            self.raw[self.inside[-1]] = self.raw.get(self.inside[-1], "") + data


def elements(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text("utf-8"))
    parser.close()
    return parser


def test_the_content_security_policy_comes_first_and_is_exact(make_report, report_inputs):
    report_inputs["state"]["summary.json"]["unmatched_owners"][0]["owner_name"] = ATTACK
    _, _, html_path, _ = make_report(report_inputs)
    page = elements(html_path)
    tags = [tag for tag, _ in page.elements]
    policies = [dict(attrs) for tag, attrs in page.elements
                if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy"]
    assert [policy["content"] for policy in policies] == [render.CSP]
    assert render.CSP == "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    csp_at = next(index for index, (tag, attrs) in enumerate(page.elements)
                  if dict(attrs).get("http-equiv") == "Content-Security-Policy")
    assert csp_at < tags.index("style") < tags.index("script")  # in force before any style or script
    assert tags.count("script") == tags.count("style") == 1
    # the inline style and script are the package's files as they are: no template syntax read into them
    templates = files("migration_report") / "templates"
    assert page.raw["style"].strip() == (templates / "style.css").read_text("utf-8").strip()
    assert page.raw["script"].strip() == (templates / "check.js").read_text("utf-8").strip()
    for _, attrs in page.elements:
        assert not [name for name, _ in attrs if name.startswith("on") or name in ("src", "srcdoc", "style")]


def practice_hostile_values() -> list[str]:
    """The hostile practice's strings with markup characters, right-to-left text or emoji (short ones)."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif (isinstance(value, str) and len(value) <= 200 and value not in found
              and (set(value) & set("<>&\"'") or any(ord(char) > 0x2000 for char in value))):
            found.append(value)

    walk(json.loads(HOSTILE_PRACTICE.read_text("utf-8")))
    return found


def everywhere(value: str) -> dict:
    """The balanced inputs with `value` in every text slot the page shows outside the charts (whose labels are
    shortened): names, ids, fields, reasons, policies, notes. Each sorted list holds it in every entry, so rows
    keep their order whatever the value."""
    inputs = balanced_inputs()
    mapper, state = inputs["transform"], inputs["state"]
    latest = state["summary.json"]
    latest.update(status="failed", message=value)
    latest["unmatched_owners"][0].update(owner_name=value, owner_source_id=value, owner_email=value,
                                         assigned_to=value)
    latest["budget_plan"] = {"tokens_estimated": 2000, "tokens_used": 2100, "estimate_accuracy": 1.05, "basis": value}
    latest["conflicts"] = [{"entity": value, "source_id": value, "field": value, "resolution": value}]
    latest["source_deletions"] = {"policy": value, "records": [
        {"source_id": value, "how": value, "in_pipedrive": {value: [value]}, "action": value, "detail": value}]}
    latest["adoptions"] = [{"decision": "not_adopted", "source_id": value, "pipedrive_id": value,
                            "differs_on": [value], "note": value}]
    latest["phi_guard"] = {"values_stripped": {value: 2}}
    state[f"summary-{LATEST_RUN}.json"] = latest
    for row in state["skipped.jsonl"]:
        row["reason"] = value
    state["degraded.jsonl"] = [{"source_stream": value, "field": value, "reason": value, "action": value,
                                "source_id": "appointments:1", "run_id": LATEST_RUN}]
    mapper["reconciliation.json"]["records_emitted"]["degraded"] = 1
    rows = list(csv.DictReader(io.StringIO(state["verify_diff.csv"])))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({**row, "field": value} for row in rows)
    state["verify_diff.csv"] = buffer.getvalue()
    state["verify_summary.json"].update(changed_in_pipedrive=1, changed_in_pipedrive_fields=[value])
    state["reconcile.json"] = {"ok": False, "unexplained": 1, "streams": {
        value: {"records": 2, "exact": 1, "not_landed": 1, "not_landed_reasons": {value: 1}}}}
    mapper["dedupe.json"] = {
        "rule": {"match_on": [value]},
        "merges": [{"survivor_source_id": value, "merged_source_id": value, "matched_on": [value],
                    "not_compared": [value]}],
        "shared_email_groups": [{"persons": [value, value], "kept_apart": [
            {"source_id": value, "other_source_id": value, "differs_on": [value]}]}],
        "review": [{"source_id": value, "other_source_id": value, "differs_on": [value], "note": value}],
    }
    mapper["phi.json"] = {"policy": value, "minimum_necessary": [value], "confirmed_not_phi": [value],
                          "left_out": [{"mark": value, "label": value, "why": value, "values": 3}], "masked": []}
    return inputs


def build(root: Path, inputs: dict) -> Elements:
    state_dir, transform_reports = write_inputs(root, inputs)
    html_path, _ = build_report(ReportInputs(state_dir, transform_reports, root / "report",
                                             generated_at="2025-11-25T09:00:00+00:00"))
    return elements(html_path)


def test_the_hostile_practice_has_values_to_try():
    values = practice_hostile_values()
    assert any("<script>" in value for value in values) and any('"' in value for value in values)


@pytest.mark.parametrize("value", practice_hostile_values())
def test_hostile_values_from_the_practice_change_text_never_the_page(tmp_path, value):
    plain = build(tmp_path / "plain", everywhere(PLACEHOLDER))
    hostile = build(tmp_path / "hostile", everywhere(value))
    assert "".join(plain.texts).count(PLACEHOLDER) >= 40  # the value is shown in many places
    # the same elements with the same attributes in the same order: the value added no markup
    assert [(tag, [name for name, _ in attrs]) for tag, attrs in hostile.elements] == \
           [(tag, [name for name, _ in attrs]) for tag, attrs in plain.elements]
    # and it is shown literally wherever the plain value is, in text and in attribute values alike
    assert hostile.texts == [text.replace(PLACEHOLDER, value) for text in plain.texts]
    assert [attrs for _, attrs in hostile.elements] == \
           [[(name, text.replace(PLACEHOLDER, value)) for name, text in attrs] for _, attrs in plain.elements]
