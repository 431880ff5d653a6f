"""Everything a Pipedrive account holds, read through its public API (as anyone with a token could)."""

from __future__ import annotations

import json
import re

V2_LISTS = ("persons", "organizations", "deals", "activities", "pipelines", "stages", "personFields",
            "organizationFields", "dealFields", "activityFields")
V1_LISTS = ("notes", "files", "users")


def account_contents(sandbox) -> dict[str, list]:
    """Every list the API offers, plus each uploaded file's bytes (decoded as text)."""
    contents = {name: sandbox.walk(f"/api/v2/{name}", "cursor") for name in V2_LISTS}
    contents.update({name: sandbox.walk(f"/api/v1/{name}", "start") for name in V1_LISTS})
    downloads = []
    for item in contents["files"]:
        response = sandbox.get(f"/api/v1/files/{item['id']}/download")
        response.raise_for_status()
        downloads.append(response.content.decode("utf-8", errors="replace"))
    contents["file_bytes"] = downloads
    return contents


def found_in(contents: dict[str, list], needles: set[str]) -> dict[str, list[str]]:
    """Needle → where it appears (list names), matched case-insensitively as a whole word run."""
    texts = {name: json.dumps(items, ensure_ascii=False) for name, items in contents.items()}
    folded = {name: text.casefold() for name, text in texts.items()}
    hits: dict[str, list[str]] = {}
    for needle in needles:
        pattern = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)", re.IGNORECASE)
        # A plain substring search first (the regex alone took minutes on the demo account); the regex
        # decides. Case-folded text keeps every spelling the regex matches an ASCII needle with (Kelvin
        # sign, long s); a non-ASCII needle always goes to the regex.
        candidates = [name for name in texts if not needle.isascii() or needle.casefold() in folded[name]]
        where = [name for name in candidates if pattern.search(texts[name])]
        if where:
            hits[needle] = where
    return hits
