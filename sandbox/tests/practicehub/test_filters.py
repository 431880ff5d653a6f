"""Every filter operator, the repeated-key form, and silently ignored invalid filters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from practicehub_sandbox.filters import OPERATORS

from .helpers import all_rows, api_get


@pytest.fixture
def appointments(practicehub_sandbox):
    return practicehub_sandbox.dataset["appointments"]


def _ids(rows):
    return sorted(r["id"] for r in rows)


def _served(sandbox, **params):
    return _ids(all_rows(sandbox, "appointments", **params))


def test_comparison_operators_on_datetimes(practicehub_sandbox, appointments):
    pivot = sorted(a["updated"] for a in appointments)[len(appointments) // 2]
    expected = {
        "eq": [a for a in appointments if a["updated"] == pivot],
        "ne": [a for a in appointments if a["updated"] != pivot],
        "gt": [a for a in appointments if a["updated"] > pivot],
        "gte": [a for a in appointments if a["updated"] >= pivot],
        "lt": [a for a in appointments if a["updated"] < pivot],
        "lte": [a for a in appointments if a["updated"] <= pivot],
    }
    for operator, rows in expected.items():
        assert _served(practicehub_sandbox, updated=f"{operator}:{pivot}") == _ids(rows), operator
    assert 0 < len(expected["gte"]) < len(appointments)


def test_dates_work_where_datetimes_are_expected(practicehub_sandbox, appointments):
    day = sorted(a["start"] for a in appointments)[10][:10]
    expected = [a for a in appointments if a["start"] >= f"{day} 00:00:00"]
    assert _served(practicehub_sandbox, start=f"gte:{day}") == _ids(expected)


def test_between_is_inclusive(practicehub_sandbox, appointments):
    starts = sorted(a["start"] for a in appointments)
    low, high = starts[5], starts[20]
    expected = [a for a in appointments if low <= a["start"] <= high]
    assert _served(practicehub_sandbox, start=f"between:{low},{high}") == _ids(expected)
    assert len(expected) >= 16


def test_integer_in_and_not_in(practicehub_sandbox, appointments):
    chosen = [a["id"] for a in appointments[:3]]
    listed = ",".join(map(str, chosen))
    assert _served(practicehub_sandbox, id=f"in:{listed}") == sorted(chosen)
    assert _served(practicehub_sandbox, id=f"not-in:{listed}") == _ids(a for a in appointments if a["id"] not in chosen)
    assert _served(practicehub_sandbox, status="in:cancelled,missed") == _ids(
        a for a in appointments if a["status"] in ("cancelled", "missed")
    )


def test_money_compares_as_numbers(practicehub_sandbox, appointments):
    expected = [a for a in appointments if a["fee"] is not None and Decimal(a["fee"]) >= Decimal("9")]
    assert _served(practicehub_sandbox, fee="gte:9") == _ids(expected)


def test_null_and_not_null(practicehub_sandbox, appointments):
    no_fee = [a for a in appointments if a["fee"] is None]
    assert no_fee, "the tiny dataset has appointments without a fee"
    assert _served(practicehub_sandbox, fee="null") == _ids(no_fee)
    assert _served(practicehub_sandbox, fee="null:") == _ids(no_fee)
    assert _served(practicehub_sandbox, fee="not-null:") == _ids(a for a in appointments if a["fee"] is not None)


def test_like_is_case_insensitive_with_wildcards(practicehub_sandbox):
    patients = practicehub_sandbox.dataset["patients"]
    target = next(p for p in patients if p["email"])
    domain = target["email"].strip().split("@")[1].upper()
    expected = [p for p in patients if p["email"] and domain.lower() in p["email"].lower()]
    assert _ids(all_rows(practicehub_sandbox, "patients", email=f"like:%{domain}%")) == _ids(expected)
    assert _ids(all_rows(practicehub_sandbox, "patients", email=f"like:{domain}")) == _ids(expected)


def test_filters_combine_with_and_including_repeated_keys(practicehub_sandbox, appointments):
    starts = sorted(a["start"] for a in appointments)
    low, high = starts[3], starts[25]
    expected = [a for a in appointments if low <= a["start"] <= high and a["status"] == "processed"]
    params = [("start", f"gte:{low}"), ("start", f"lte:{high}"), ("status", "eq:processed")]
    assert _ids(all_rows(practicehub_sandbox, "appointments", params=params)) == _ids(expected)


@pytest.mark.parametrize(
    "params",
    [
        {"nonexistent": "eq:1"},
        {"updated": "bogus:2024-01-01"},
        {"updated": "gte:yesterday"},
        {"updated": "2024-01-01 00:00:00"},
        {"id": "gt:twelve"},
        {"id": "between:1"},
        {"custom_fields": "eq:x"},
    ],
)
def test_invalid_filters_are_silently_ignored(practicehub_sandbox, appointments, params):
    name, value = next(iter(params.items()))
    resource = "patients" if name == "custom_fields" else "appointments"
    served = all_rows(practicehub_sandbox, resource, **{name: value})
    assert len(served) == len(practicehub_sandbox.dataset[resource])


def test_invalid_filter_next_to_a_valid_one_leaves_the_valid_one(practicehub_sandbox, appointments):
    expected = [a for a in appointments if a["status"] == "pending"]
    params = [("status", "eq:pending"), ("updated", "gte:not-a-date")]
    assert _ids(all_rows(practicehub_sandbox, "appointments", params=params)) == _ids(expected)
    page = practicehub_sandbox.stats()["pages"][0]
    assert (page["filters"], page["ignored_filters"]) == (["status:eq"], 1)
    assert "pending" not in str(practicehub_sandbox.stats()), "filter values are not recorded"


_EXPRESSIONS = st.one_of(
    st.text(max_size=40),
    st.tuples(st.sampled_from(OPERATORS + ("", "GTE", "between", "in")), st.text(max_size=30)).map(":".join),
)
_ATTRIBUTES = st.sampled_from(["id", "updated", "start", "fee", "status", "note", "cancelDate", "bogus", "page_size"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_ATTRIBUTES, _EXPRESSIONS), max_size=3))
def test_any_filter_text_gets_an_answer_never_a_crash(practicehub_sandbox, params):
    practicehub_sandbox.configure(rate=10_000.0, burst=10_000)
    response = api_get(practicehub_sandbox, "appointments", params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] <= len(practicehub_sandbox.dataset["appointments"])
