"""A fresh account: users, activity types, system fields, a default pipeline, and the chosen fixture.

`empty` is what a new Pipedrive company has (users, one pipeline with its stages). `in-use` adds an
account's history: organizations, persons, deals, activities and a few custom fields ("Source",
"Lead channel"). A JSON file lists pipelines, fields and records to load on top of `empty`; a file
written by `target-pipedrive snapshot-account` (it has a "snapshot" block) is a whole account instead:
its users, activity types, fields, pipelines, stages and records, with their ids, make a twin of it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from faker import Faker

from .clock import now_v2
from .fields import (
    FIELD_FAMILIES,
    INDUSTRY_OPTIONS,
    SYSTEM_FIELDS,
    field_record,
    new_field_code,
    seed_system_fields,
)
from .store import Store

USER_DOMAIN = "sandbox-clinic.test"
DEFAULT_STAGES = ["Lead In", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started"]
ACTIVITY_TYPES = [("call", "Call"), ("meeting", "Meeting"), ("task", "Task"), ("deadline", "Deadline"),
                  ("email", "Email"), ("lunch", "Lunch")]


def default_user_email(index: int) -> str:
    """Emails of generated users: user 1 is the admin (owner of --api-token)."""
    return f"admin@{USER_DOMAIN}" if index == 1 else f"user{index}@{USER_DOMAIN}"


def user_record(user_id: int, name: str, email: str, admin: bool) -> dict[str, Any]:
    now = now_v2().replace("T", " ").replace("Z", "")
    return {
        "id": user_id, "name": name, "email": email, "default_currency": "USD", "locale": "en_US", "lang": 1,
        "phone": None, "activated": True, "last_login": now, "created": now, "modified": now,
        "has_created_company": admin, "is_admin": admin, "role_id": 1 if admin else 2,
        "access": [{"app": "sales", "admin": admin, "permission_set_id": "admin" if admin else "regular"}],
        "active_flag": True, "timezone_name": "Europe/London", "timezone_offset": "+00:00", "icon_url": None,
        "is_deleted": False, "company_id": 1, "company_name": "Sandbox Clinic",
        "company_domain": "sandbox-clinic", "company_country": "GB", "company_industry": "Healthcare",
        "language": {"language_code": "en", "country_code": "US"},
    }


def parse_users(spec: str | int | list | None, faker: Faker) -> list[dict[str, Any]]:
    """`--users N` (generated), a JSON file path, or a list of {name, email, role}; the first is admin."""
    if spec is None:
        spec = 3
    if isinstance(spec, str) and not spec.isdigit():
        spec = json.loads(Path(spec).read_text())
    if isinstance(spec, int | str):
        count = int(spec)
        if count < 1:
            raise ValueError("--users must be at least 1")
        return [{"name": faker.name(), "email": default_user_email(i), "role": "admin" if i == 1 else "regular"}
                for i in range(1, count + 1)]
    users = [dict(u) for u in spec]
    for i, user in enumerate(users):
        if not user.get("email"):
            raise ValueError("every user needs an email")
        user.setdefault("name", user["email"].split("@")[0])
        user.setdefault("role", "admin" if i == 0 else "regular")
    return users


def initialise(store: Store, api_token: str, users: list[dict[str, Any]], fixture: str, seed: int,
               user_tokens: dict[str, str]) -> None:
    """Fill a new database once; a database that already holds an account is left as it is."""
    with store.transaction():
        if store.get_meta("initialised") != "1":
            _fill(store, users, fixture, seed)
        token_user = store.get_meta("token_user_id")  # a snapshot's: the user whose token took it
        admin = [store.get("users", int(token_user))] if token_user else store.query(
            "users", "json_extract(data, '$.is_admin') = 1", limit=1)
        store.set_token(api_token, admin[0]["id"])
        for email, token in user_tokens.items():
            store.set_token(token, _user_by_email(store, email)["id"])


def _fill(store: Store, users: list[dict[str, Any]], fixture: str, seed: int) -> None:
    data = json.loads(Path(fixture).read_text()) if fixture not in ("empty", "", "in-use") else None
    if isinstance(data, dict) and "snapshot" in data:
        _load_snapshot(store, data)
        store.set_meta("initialised", "1")
        return
    faker = Faker()
    faker.seed_instance(seed)
    for user in users:
        uid = store.next_id("users")
        store.insert("users", user_record(uid, user["name"], user["email"], user["role"] == "admin"))
    for order, (key, name) in enumerate(ACTIVITY_TYPES, start=1):
        store.insert("activityTypes", {
            "id": order, "name": name, "icon_key": key, "color": None, "order_nr": order, "key_string": key,
            "active_flag": True, "is_custom_flag": False, "add_time": now_v2(), "update_time": now_v2()})
    seed_system_fields(store)
    _add_pipeline(store, "Pipeline", DEFAULT_STAGES)
    if fixture == "in-use":
        _in_use(store, faker, random.Random(seed))
    elif data is not None:
        _load_file(store, data)
    store.set_meta("initialised", "1")


def _user_by_email(store: Store, email: str) -> dict[str, Any]:
    found = store.query("users", "lower(json_extract(data, '$.email')) = lower(?)", [email])
    if found:
        return found[0]
    uid = store.next_id("users")
    return store.insert("users", user_record(uid, email.split("@")[0], email, False))


def _add_pipeline(store: Store, name: str, stages: list, given: dict | None = None) -> dict[str, Any]:
    """A pipeline and its stages: stage names, or (from a snapshot) stage records with their ids."""
    now = now_v2()
    order = len(store.query("pipelines")) + 1
    pipeline = store.insert("pipelines", {"name": name, "order_nr": order, "is_deleted": False,
                                          "is_deal_probability_enabled": False, "add_time": now, "update_time": now,
                                          **(given or {})})
    for order_nr, stage in enumerate(stages, start=1):
        record = stage if isinstance(stage, dict) else {"name": stage}
        store.insert("stages", {"pipeline_id": pipeline["id"], "order_nr": order_nr, "is_deleted": False,
                                "deal_probability": 100, "is_deal_rot_enabled": False, "days_to_rotten": None,
                                "add_time": now, "update_time": now, **record})
    return pipeline


def _add_custom_field(store: Store, family: str, name: str, field_type: str, labels=None) -> dict[str, Any]:
    return store.insert(FIELD_FAMILIES[family],
                        field_record(store, family, new_field_code(), name, field_type, True, labels))


def _base(owner_id: int, visible_to: int = 3) -> dict[str, Any]:
    now = now_v2()
    return {"owner_id": owner_id, "visible_to": visible_to, "add_time": now, "update_time": now,
            "is_deleted": False, "custom_fields": {}}


def _in_use(store: Store, faker: Faker, rng: random.Random) -> None:
    users = store.all("users")
    admin, regulars = users[0], users[1:] or users[:1]
    source = _add_custom_field(store, "person", "Source", "varchar")
    channel = _add_custom_field(store, "person", "Lead channel", "enum", ["Website", "Referral", "Event"])
    _add_custom_field(store, "deal", "Campaign", "varchar")
    _add_custom_field(store, "organization", "Segment", "enum", ["SMB", "Mid-market", "Enterprise"])
    orgs = []
    for _ in range(4):
        org = {**_base(rng.choice(users)["id"]), "name": faker.company(), "address": None, "website": None,
               "industry": None, "label_ids": []}
        orgs.append(store.insert("organizations", org))
    persons = []
    for i in range(8):
        name = faker.name()
        owner = regulars[i % len(regulars)] if i % 3 else admin
        person = {**_base(owner["id"], 1 if i == 7 else 3), "name": name,
                  "first_name": name.split(" ")[0], "last_name": name.partition(" ")[2] or None,
                  "org_id": orgs[i % len(orgs)]["id"] if i % 2 == 0 else None,
                  "emails": [{"value": faker.email(), "primary": True, "label": "work"}],
                  "phones": [{"value": faker.phone_number(), "primary": True, "label": "work"}], "label_ids": []}
        person["custom_fields"] = {source["field_code"]: "Trade show",
                                   channel["field_code"]: rng.choice(channel["options"])["id"]}
        persons.append(store.insert("persons", person))
    pipeline = store.query("pipelines", limit=1)[0]
    stages = store.query("stages", "json_extract(data, '$.pipeline_id') = ?", [pipeline["id"]])
    for i in range(5):
        status = ("open", "open", "won", "lost", "open")[i]
        now = now_v2()
        deal = {**_base(rng.choice(users)["id"]), "title": f"{faker.bs().title()} deal",
                "person_id": persons[i]["id"], "org_id": persons[i].get("org_id"), "pipeline_id": pipeline["id"],
                "stage_id": stages[i % len(stages)]["id"], "value": rng.randint(5, 500) * 100, "currency": "USD",
                "status": status, "lost_reason": "Price" if status == "lost" else None,
                "won_time": now if status == "won" else None, "lost_time": now if status == "lost" else None,
                "close_time": now if status != "open" else None, "expected_close_date": None, "probability": None,
                "label_ids": []}
        store.insert("deals", deal)
    for i in range(3):
        activity = {**_base(admin["id"]), "subject": f"Follow up {i + 1}", "type": "call", "done": i == 0,
                    "due_date": f"2026-01-1{i + 1}", "due_time": "10:00", "duration": "00:30",
                    "person_id": persons[i]["id"], "participants": [{"person_id": persons[i]["id"], "primary": True}],
                    "deal_id": None, "org_id": None, "note": None}
        del activity["visible_to"]
        store.insert("activities", activity)


def _load_snapshot(store: Store, data: dict[str, Any]) -> None:
    """A twin of the account the snapshot was taken of: the same ids, field codes and option ids."""
    users = data.get("users") or []
    if not any(user.get("email") for user in users):
        raise ValueError("the snapshot lists no users")
    for user in users:
        # v1 lists say "admin" in `access` (and `is_you` for whoever asks): the store keeps `is_admin`
        admin = bool(user.get("is_admin")) or any(a.get("admin") for a in user.get("access") or [])
        given = {key: value for key, value in user.items() if key != "is_you"}
        store.insert("users", {**user_record(user["id"], user.get("name") or user["email"], user["email"], admin),
                               **given, "is_admin": admin})
    token_user = data["snapshot"].get("token_user_id")
    if token_user is not None:
        if store.get("users", token_user) is None:
            raise ValueError(f"the snapshot's token user {token_user} is not among its users")
        store.set_meta("token_user_id", str(token_user))
    types = data.get("activity_types") or [
        {"id": order, "name": name, "icon_key": key, "key_string": key, "order_nr": order, "active_flag": True,
         "is_custom_flag": False} for order, (key, name) in enumerate(ACTIVITY_TYPES, start=1)]
    for activity_type in types:
        store.insert("activityTypes", dict(activity_type))
    listed = data.get("fields") or {}
    for family, endpoint in FIELD_FAMILIES.items():
        if not listed.get(family):
            for code, name, field_type in SYSTEM_FIELDS[family]:
                labels = INDUSTRY_OPTIONS if code == "industry" else None
                store.insert(endpoint, field_record(store, family, code, name, field_type, False, labels))
            continue
        for field in listed[family]:
            record = field_record(store, family, field["field_code"], field["field_name"], field["field_type"],
                                  bool(field.get("is_custom_field")))
            for option in field.get("options") or []:
                if isinstance(option.get("id"), int):
                    store.reserve_id("field_options", option["id"])
            store.insert(endpoint, {**record, **field, "family": family})
    for pipeline in data.get("pipelines") or []:
        given = {key: value for key, value in pipeline.items() if key != "stages"}
        _add_pipeline(store, pipeline["name"], pipeline.get("stages") or [], given)
    admin_id = int(token_user) if token_user is not None else users[0]["id"]
    for entity in ("organizations", "persons", "deals", "activities"):
        for record in data.get(entity) or []:
            store.insert(entity, {**_base(record.get("owner_id") or admin_id), **record})


def _load_file(store: Store, data: dict[str, Any]) -> None:
    """Records from a fixture file: {"pipelines": [{name, stages: [...]}], "persons": [...], ...}."""
    admin_id = store.query("users", limit=1)[0]["id"]
    for pipeline in data.get("pipelines", []):
        _add_pipeline(store, pipeline["name"], pipeline.get("stages", DEFAULT_STAGES))
    for family, definitions in (data.get("fields") or {}).items():
        for definition in definitions:
            _add_custom_field(store, family, definition["field_name"], definition["field_type"],
                              [o["label"] if isinstance(o, dict) else o for o in definition.get("options") or []])
    for entity in ("organizations", "persons", "deals", "activities"):
        for record in data.get(entity, []):
            store.insert(entity, {**_base(record.get("owner_id", admin_id)), **record})
