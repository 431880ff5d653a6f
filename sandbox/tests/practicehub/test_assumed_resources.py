"""The assumed resources: Patient Library assets behind their own signed links, prescriptions with pharmacy refs."""

from __future__ import annotations

import hashlib

import requests
from practicehub_sandbox.data import generate
from practicehub_sandbox.data.mess import DELETED_APPOINTMENT

from .helpers import all_rows


def test_library_assets_are_shared_with_several_patients_and_some_with_none():
    data = generate("demo")
    patients = {p["id"] for p in data["patients"]}
    assets = data["patient_library"]
    assert any(len(a["patient_ids"]) > 1 for a in assets)
    assert any(not a["patient_ids"] for a in assets)
    assert all(set(a["patient_ids"]) <= patients for a in assets)
    assert [a["file_name"] for a in assets[:2]] == ["", "exercises: week 1/2?.pdf"]  # the demo's mess


def test_prescriptions_keep_their_pharmacy_reference_and_point_at_real_records():
    data = generate("demo")
    patients = {p["id"] for p in data["patients"]}
    appointments = {a["id"] for a in data["appointments"]} | {DELETED_APPOINTMENT}
    prescriptions = data["prescriptions"]
    assert all(p["patient_id"] in patients for p in prescriptions)
    assert all(p["appointment_id"] in appointments for p in prescriptions if p["appointment_id"] is not None)
    sent = [p for p in prescriptions if p["status"] != "draft"]
    assert sent and all(p["pharmacy_order_reference"] and p["pharmacy_name"] for p in sent)
    assert {p["status"] for p in prescriptions} >= {"draft", "sent_to_pharmacy", "dispensed", "cancelled"}


def test_asset_links_serve_the_bytes_and_are_not_attachment_links(practicehub_sandbox):
    asset = all_rows(practicehub_sandbox, "patient_library")[0]
    assert asset["url"].startswith(f"{practicehub_sandbox.root_url}/_blobs/patient_library/{asset['id']}?expires=")
    response = requests.get(asset["url"], timeout=10)
    assert response.status_code == 200
    assert len(response.content) == asset["size"]
    assert response.headers["Content-Type"].startswith(asset["mime_type"])
    assert requests.get(asset["url"], timeout=10).content == response.content
    # A library link's signature does not open the attachment of the same number.
    forged = asset["url"].replace("/_blobs/patient_library/", "/_blobs/")
    assert requests.get(forged, timeout=10).status_code == 403
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest != hashlib.sha256(b"").hexdigest()
