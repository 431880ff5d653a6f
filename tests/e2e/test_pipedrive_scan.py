"""The PHI scan's matcher: fast, and it still finds every spelling its regex finds."""

from __future__ import annotations

from tests.e2e.pipedrive_scan import found_in


def test_found_in_matches_case_insensitively_as_whole_word_runs():
    contents = {"persons": [{"name": "MRN0001234 Smith"}], "notes": [{"content": "<p>ſmith ate cake</p>"}],
                "deals": [{"title": "Kelvin sign: \u212aate"}], "files": [{"name": "Smithson"}]}
    hits = found_in(contents, {"mrn0001234", "smith", "kate", "Zoë", "cake"})
    assert hits == {"mrn0001234": ["persons"], "smith": ["persons", "notes"], "kate": ["deals"],
                    "cake": ["notes"]}
    assert found_in({"persons": [{"name": "ZOË"}]}, {"Zoë"}) == {"Zoë": ["persons"]}
