"""--dataset FILE.json: records served exactly as given, missing resources empty, blobs from the id."""

from __future__ import annotations

import json

import pytest
import requests
from practicehub_sandbox.data import DatasetError, load_file

from .helpers import api_get

RECORDS = {
    "patients": [
        {"id": 7, "first_name": "Ana", "last_name": "Lima", "email": None, "created": "2024-01-02 03:04:05",
         "updated": "2024-01-02 03:04:05", "unexpected_field": "kept"},
    ],
    "files": [
        {"id": 9, "patient_id": 7, "entity_type": "patient", "entity_id": 7, "file_name": "x.png", "file_type": "png",
         "mime_type": "image/png", "size": 321, "description": None, "url": "https://elsewhere.example/x",
         "created": "2024-01-02 03:04:05", "updated": "2024-01-02 03:04:05"},
    ],
}


def test_file_dataset_is_served_as_given(practicehub_sandbox_factory, tmp_path):
    path = tmp_path / "practice.json"
    path.write_text(json.dumps(RECORDS))
    sandbox = practicehub_sandbox_factory(dataset=str(path), subprocess=True)
    patients = api_get(sandbox, "patients").json()
    assert patients["data"] == RECORDS["patients"]
    assert api_get(sandbox, "users").json() == {
        "total_entries": 0, "data": [], "links": {"self": f"{sandbox.base_url}/users?page=1&page_size=100",
                                                  "previous": None, "next": None},
    }
    served_file = api_get(sandbox, "files").json()["data"][0]
    assert served_file["url"].startswith(f"{sandbox.root_url}/_blobs/9?")
    blob = requests.get(served_file["url"], timeout=10)
    assert blob.headers["Content-Type"] == "image/png" and len(blob.content) == 321
    assert blob.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "cannot read"),
        ("[]", "JSON object"),
        ('{"widgets": []}', "unknown resources"),
        ('{"patients": [{"name": "no id"}]}', "integer id"),
        ('{"users": [{"id": 1}, {"id": 1}]}', "1 duplicate id"),
    ],
)
def test_bad_dataset_files_get_a_clear_error(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DatasetError, match=problem):
        load_file(path)
