"""Verify treats Pipedrive's stripping of active content from note HTML as a match, and nothing else."""

from target_pipedrive.note_html import same_note_html
from target_pipedrive.verify import field_diffs

SENT = '<p onclick="steal()">Knee <b>better</b></p><script>alert(1)</script><style>p{}</style>'
STRIPPED = "<p>Knee <b>better</b></p>"


def test_stripped_scripts_styles_and_handlers_still_match():
    assert same_note_html(SENT, STRIPPED)
    assert same_note_html(SENT, SENT)
    assert same_note_html("<p>a<iframe src='x'></iframe>b</p>", "<p>ab</p>")


def test_changed_text_markup_or_attributes_do_not_match():
    assert not same_note_html(SENT, "<p>Knee <b>worse</b></p>")
    assert not same_note_html(SENT, "<p>Knee better</p>")
    assert not same_note_html('<a href="https://a.test">x</a>', '<a href="https://b.test">x</a>')
    assert not same_note_html("<p>x</p>", None)


def test_verify_reports_only_real_note_differences():
    row = {"source_id": "n1", "pipedrive_id": 7, "sent": {"content": SENT, "deal_id": 3}}
    assert field_diffs("notes", row, {"content": STRIPPED, "deal_id": 3}) == []
    diffs = field_diffs("notes", row, {"content": "<p>Knee</p>", "deal_id": 3})
    assert [d["field"] for d in diffs] == ["content"]
