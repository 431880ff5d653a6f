"""v1 endpoints the target still needs: notes, files, users, activity types, field list and bulk delete."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from typing import Any

from flask import Flask, Response, request

from .account import Account
from .clock import V1_FORMAT, normalise_v2, now_v2, parse, to_v1
from .errors import ApiError, bad_request, not_found, ok
from .fields import FIELD_FAMILIES
from .routes_fields import delete_custom_field
from .routing import api_route, current_user, int_arg, page_limit, v1_body
from .validation import validate_body
from .visibility import is_admin

NOTE_LINKS = ("deal_id", "person_id", "org_id", "lead_id", "project_id", "task_id")
NOTE_PINS = ("pinned_to_lead_flag", "pinned_to_deal_flag", "pinned_to_organization_flag", "pinned_to_person_flag",
             "pinned_to_project_flag", "pinned_to_task_flag")
FILE_LINKS = ("deal_id", "person_id", "org_id", "activity_id", "product_id", "lead_id", "project_id")
INT_LINKS = {"deal_id": "deals", "person_id": "persons", "org_id": "organizations", "activity_id": "activities"}
SCRIPT_RE = re.compile(r"<\s*(script|style|iframe)[^>]*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
TAG_RE = re.compile(r"<[a-zA-Z][^>]*>")
HANDLER_RE = re.compile(r"\s+on[a-z]+\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)


def sanitise_html(content: str) -> str:
    """Pipedrive strips scripts and event handlers from note HTML; escaped text (``&lt;img onerror=…``) stays."""
    without_scripts = SCRIPT_RE.sub("", content)
    return TAG_RE.sub(lambda tag: HANDLER_RE.sub("", tag.group(0)), without_scripts)


def _v1_page(rows: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    start = int_arg("start", 0, 0)
    limit = page_limit()
    page = rows[start:start + limit]
    more = start + limit < len(rows)
    pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return page, {"pagination": pagination}


def _as_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"{key} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"{key} must be an integer") from exc


def _check_links(account: Account, body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    links: dict[str, Any] = {}
    for key in keys:
        if key in ("lead_id",):
            links[key] = body.get(key) or None
            continue
        links[key] = _as_int(body, key)
        if links[key] is not None and key in INT_LINKS and account.store.get(INT_LINKS[key], links[key]) is None:
            raise bad_request(f"{key} {links[key]} does not exist")
    return links


def register(app: Flask, account: Account) -> None:
    store = account.store

    def user_view(user: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in user.items() if k not in ("is_admin", "company_id", "company_name",
                                                              "company_domain", "company_country",
                                                              "company_industry", "language")}
        view["is_you"] = user["id"] == current_user()["id"]
        return view

    def name_of(entity: str, record_id: int | None, key: str = "name") -> str | None:
        record = store.get(entity, record_id) if record_id else None
        return record.get(key) if record else None

    # --- notes ----------------------------------------------------------------------------------
    def note_view(note: dict[str, Any]) -> dict[str, Any]:
        view = {**note, "add_time": to_v1(note["add_time"]), "update_time": to_v1(note["update_time"])}
        view.pop("is_deleted", None)
        user = store.get("users", note["user_id"])
        view["user"] = {"email": user["email"], "name": user["name"], "icon_url": user.get("icon_url"),
                        "is_you": user["id"] == current_user()["id"]} if user else None
        view["deal"] = {"title": name_of("deals", note.get("deal_id"), "title")} if note.get("deal_id") else None
        view["person"] = {"name": name_of("persons", note.get("person_id"))} if note.get("person_id") else None
        view["organization"] = {"name": name_of("organizations", note.get("org_id"))} if note.get("org_id") else None
        return view

    def live_note(note_id: int) -> dict[str, Any]:
        note = store.get("notes", note_id)
        if note is None:
            raise not_found("Note")
        return note

    def apply_note(note: dict[str, Any], body: dict[str, Any], creating: bool) -> dict[str, Any]:
        if creating or "content" in body:
            content = body.get("content")
            if not isinstance(content, str) or not content.strip():
                raise bad_request("Content must be given")
            note["content"] = sanitise_html(content)
        links = _check_links(account, body, NOTE_LINKS)
        for key, value in links.items():
            if creating or key in body:
                note[key] = value
        if creating and not any(note.get(k) for k in NOTE_LINKS):
            raise bad_request("One of deal_id, person_id, org_id, lead_id or project_id must be given")
        user_id = _as_int(body, "user_id")
        if user_id is not None:
            if user_id != current_user()["id"] and not is_admin(current_user()):
                raise ApiError(403, "Only admins may add notes for other users")
            if store.get("users", user_id) is None:
                raise bad_request(f"user_id {user_id} does not exist")
            note["user_id"] = user_id
        if body.get("add_time"):
            try:
                parse(str(body["add_time"])).strftime(V1_FORMAT)
                note["add_time"] = normalise_v2(str(body["add_time"]))
            except ValueError as exc:
                raise bad_request("add_time must be YYYY-MM-DD HH:MM:SS") from exc
        for pin in NOTE_PINS:
            if pin in body:
                note[pin] = str(body[pin]).lower() in ("1", "true")
        note["last_update_user_id"] = current_user()["id"]
        note["update_time"] = now_v2()
        return note

    @api_route(app, "v1", "GET", "/notes")
    def list_notes():
        rows = store.all("notes")
        for key in ("deal_id", "person_id", "org_id", "user_id"):
            wanted = int_arg(key)
            if wanted is not None:
                rows = [n for n in rows if n.get(key) == wanted]
        if request.args.get("updated_since"):
            try:
                since = normalise_v2(request.args["updated_since"])
            except ValueError as exc:
                raise bad_request("updated_since must be a date-time") from exc
            rows = [n for n in rows if n["update_time"] >= since]
        page, additional = _v1_page(rows)
        return ok([note_view(n) for n in page], additional)

    @api_route(app, "v1", "GET", "/notes/{id}")
    def get_note(id: int):  # noqa: A002
        return ok(note_view(live_note(id)))

    def note_body(method: str, path: str) -> dict[str, Any]:
        """JSON bodies are checked against the spec like v2 ones; form fields arrive as text and are read by key."""
        body = v1_body()
        if request.form:
            return body
        return validate_body(account.catalog, "v1", method, path, body)

    @api_route(app, "v1", "POST", "/notes")
    def create_note():
        body = note_body("POST", "/notes")
        now = now_v2()
        note = {"user_id": current_user()["id"], "add_time": now, "active_flag": True, "is_deleted": False,
                **{pin: False for pin in NOTE_PINS}}
        with store.lock:
            note = store.insert("notes", apply_note(note, body, creating=True))
        return ok(note_view(note))

    @api_route(app, "v1", "PUT", "/notes/{id}")
    def update_note(id: int):  # noqa: A002
        body = note_body("PUT", "/notes/{id}")
        with store.lock:
            note = store.save("notes", apply_note(live_note(id), body, creating=False))
        return ok(note_view(note))

    @api_route(app, "v1", "DELETE", "/notes/{id}")
    def delete_note(id: int):  # noqa: A002
        with store.lock:
            note = live_note(id)
            if not is_admin(current_user()) and note["user_id"] != current_user()["id"]:
                raise ApiError(403, "You do not have permission to delete this note")
            note.update(is_deleted=True, active_flag=False, update_time=now_v2())
            store.save("notes", note)
        return ok(True)

    # --- files ----------------------------------------------------------------------------------
    def file_view(record: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in record.items() if k not in ("is_deleted", "sha256")}
        view["add_time"], view["update_time"] = to_v1(record["add_time"]), to_v1(record["update_time"])
        view["url"] = f"{request.host_url.rstrip('/')}/api/v1/files/{record['id']}/download"
        view["deal_name"] = name_of("deals", record.get("deal_id"), "title")
        view["person_name"] = name_of("persons", record.get("person_id"))
        view["org_name"] = name_of("organizations", record.get("org_id"))
        return view

    def live_file(file_id: int) -> dict[str, Any]:
        record = store.get("files", file_id)
        if record is None:
            raise not_found("File")
        return record

    @api_route(app, "v1", "GET", "/files")
    def list_files():
        page, additional = _v1_page(store.all("files"))
        return ok([file_view(f) for f in page], additional)

    for entity, link in (("deals", "deal_id"), ("persons", "person_id"), ("organizations", "org_id")):
        _register_item_files(app, account, entity, link, file_view)

    @api_route(app, "v1", "GET", "/files/{id}")
    def get_file(id: int):  # noqa: A002
        return ok(file_view(live_file(id)))

    @api_route(app, "v1", "POST", "/files")
    def upload_file():
        upload = request.files.get("file")
        if upload is None:
            raise bad_request("file must be given (multipart/form-data)")
        content = upload.read()
        links = _check_links(account, request.form.to_dict(), FILE_LINKS)
        if not any(links.values()):
            raise bad_request("One of deal_id, person_id, org_id, activity_id, product_id, lead_id or "
                              "project_id must be given")
        name = upload.filename or "file"
        file_type = (name.rsplit(".", 1)[-1].lower() if "." in name else "") or "bin"
        now = now_v2()
        with store.lock:
            record = store.insert("files", {
                "user_id": current_user()["id"], **links, "add_time": now, "update_time": now,
                "file_name": name, "name": name, "file_type": file_type, "file_size": len(content),
                "active_flag": True, "inline_flag": False, "remote_location": "s3", "remote_id": None,
                "cid": None, "s3_bucket": None, "mail_message_id": None, "mail_template_id": None,
                "product_name": None, "lead_name": None, "project_name": None, "description": None,
                "mime_type": upload.mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream",
                "sha256": hashlib.sha256(content).hexdigest(), "is_deleted": False,
            })
            store.put_blob(record["id"], content)
        return ok(file_view(record))

    @api_route(app, "v1", "GET", "/files/{id}/download")
    def download_file(id: int):  # noqa: A002
        record = live_file(id)
        content = store.get_blob(id) or b""
        return Response(content, mimetype="application/octet-stream",  # as the spec declares
                        headers={"Content-Disposition": f'attachment; filename="{record["file_name"]}"'})

    @api_route(app, "v1", "DELETE", "/files/{id}")
    def delete_file(id: int):  # noqa: A002
        with store.lock:
            record = live_file(id)
            if not is_admin(current_user()) and record["user_id"] != current_user()["id"]:
                raise ApiError(403, "You do not have permission to delete this file")
            record.update(is_deleted=True, active_flag=False, update_time=now_v2())
            store.save("files", record)
        return ok({"id": id})

    # --- users and activity types ---------------------------------------------------------------
    @api_route(app, "v1", "GET", "/users")
    def list_users():
        return ok([user_view(u) for u in store.all("users")])

    @api_route(app, "v1", "GET", "/users/find")
    def find_users():
        term = request.args.get("term")
        if not term:
            raise bad_request("term must be given")
        by_email = request.args.get("search_by_email", "0") in ("1", "true")
        key = "email" if by_email else "name"
        found = [u for u in store.all("users") if term.lower() in (u.get(key) or "").lower()]
        return ok([user_view(u) for u in found] or None)

    @api_route(app, "v1", "GET", "/users/me")
    def me():
        user = store.get("users", current_user()["id"])
        view = user_view(user)
        view.update({k: user[k] for k in ("company_id", "company_name", "company_domain", "company_country",
                                          "company_industry", "language")})
        return ok(view)

    @api_route(app, "v1", "GET", "/users/{id}")
    def get_user(id: int):  # noqa: A002
        user = store.get("users", id)
        if user is None:
            raise not_found("User")
        return ok(user_view(user))

    @api_route(app, "v1", "GET", "/activityTypes")
    def activity_types():
        return ok(store.all("activityTypes"))

    # --- v1 field lists (for numeric ids) and bulk delete ---------------------------------------
    for family in ("person", "organization", "deal"):
        _register_v1_fields(app, account, family)


def _register_item_files(app: Flask, account: Account, entity: str, link: str, file_view) -> None:
    """GET /v1/{deals|persons|organizations}/{id}/files: the live files attached to one item."""

    @api_route(app, "v1", "GET", f"/{entity}/{{id}}/files")
    def item_files(id: int):  # noqa: A002
        if account.store.get(entity, id) is None:
            raise not_found(entity[:-1].capitalize())
        rows = [f for f in account.store.all("files") if f.get(link) == id]
        page, additional = _v1_page(rows)
        return ok([file_view(f) for f in page], additional)


def v1_field(field: dict[str, Any], order_nr: int) -> dict[str, Any]:
    custom = field["is_custom_field"]
    return {
        "id": field["id"], "key": field["field_code"], "name": field["field_name"], "order_nr": order_nr,
        "field_type": field["field_type"], "add_time": field["add_time"],  # RFC 3339 here, as the spec says
        "update_time": field["update_time"], "last_updated_by_user_id": None, "created_by_user_id": None,
        "active_flag": True, "edit_flag": custom, "index_visible_flag": True, "details_visible_flag": True,
        "add_visible_flag": True, "important_flag": False, "bulk_edit_allowed": True, "searchable_flag": False,
        "filtering_allowed": True, "sortable_flag": True, "mandatory_flag": field["field_code"] in ("name", "title"),
        "options": [{"id": o["id"], "label": o["label"]} for o in field["options"]] if field["options"] else None,
    }


def _register_v1_fields(app: Flask, account: Account, family: str) -> None:
    table = FIELD_FAMILIES[family]
    store = account.store

    @api_route(app, "v1", "GET", f"/{table}")
    def list_fields_v1():
        rows = [v1_field(f, i) for i, f in enumerate(store.all(table), start=1)]
        page, additional = _v1_page(rows)
        return ok(page, additional)

    @api_route(app, "v1", "DELETE", f"/{table}")
    def bulk_delete_fields():
        raw = request.args.get("ids", "")
        try:
            ids = [int(i) for i in raw.split(",") if i.strip()]
        except ValueError as exc:
            raise bad_request("ids must be a comma-separated list of integers") from exc
        if not ids:
            raise bad_request("ids must be given")
        with store.lock:
            records = [store.get(table, i) for i in ids]
            missing = [i for i, r in zip(ids, records, strict=True) if r is None]
            if missing:
                raise not_found(f"Fields {missing}")
            for record in records:
                if not record["is_custom_field"]:
                    raise bad_request(f"System field {record['field_code']} cannot be deleted")
            for record in records:
                delete_custom_field(account, table, record)
        return ok({"id": ids})

    @api_route(app, "v1", "DELETE", f"/{table}/{{id}}")
    def delete_field_v1(id: int):  # noqa: A002
        with store.lock:
            record = store.get(table, id)
            if record is None:
                raise not_found("Field")
            delete_custom_field(account, table, record)
        return ok({"id": id})
