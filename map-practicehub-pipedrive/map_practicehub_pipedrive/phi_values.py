"""The PHI the run leaves out: counted for the report (`phi.json`), and masked wherever one of its values
turns up in text that is sent (deal titles, task subjects and notes, note content, file names, custom fields).

A patient's left-out values (PHI-marked, unclassified or unmapped fields, the date of birth) are remembered
for this run only, in memory: the state file never holds them. Nothing here logs a value.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

from map_practicehub_pipedrive import phi

MASK = "[PHI removed]"
MIN_LENGTH = 4  # shorter values ("No", "F") would mask ordinary words
MIN_DIGITS = 6  # a bare number shorter than this ("2025") is as likely a year, a time or an amount
TEXT_FIELDS = {"deals": ("title",), "activities": ("subject", "note"), "notes": ("content",),
               "files": ("file_name",), "persons": (), "organizations": ()}
# Custom fields that hold free text; dates, numbers, pick-list labels and instants are left as they are
# (a masked date would not be a date; a value can only be copied into text).
FREE_TEXT = ("varchar", "text", "phone")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
REPORT_FILE = "phi.json"


def _variants(value: object) -> set[str]:
    """The spellings of one value worth looking for: as is, HTML-escaped, and a date's usual forms."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return set()
    text = " ".join(str(value).split())
    if len(text) < (MIN_DIGITS if text.isdigit() else MIN_LENGTH):
        return set()
    found = {text.casefold(), html.escape(text, quote=False).casefold()}
    date = ISO_DATE.match(text)
    if date:
        year, month, day = date.groups()
        found |= {f"{day}/{month}/{year}", f"{month}/{day}/{year}", f"{day}.{month}.{year}"}
    return found


class PhiValues:
    """Per run: which PHI marks are left out, how many values each held, and the masking of stray copies."""

    def __init__(self, mapping: dict, plans: dict, policy: str) -> None:
        self.policy = policy
        self.minimum_necessary = mapping.get("minimum_necessary")
        self.confirmed_not_phi = list((mapping.get("confirmed") or {}).get("non_phi") or [])
        self.catalogue = self._catalogue(mapping)
        self.plans = plans
        self.dropped_fields: dict[str, set[str]] = {}
        self.dropped_custom: dict[str, set[str]] = {}
        self.mapped_fields: dict[str, set[str]] = {}
        self.carried_custom: dict[str, set[str]] = {}
        self.free_text: dict[str, set[str]] = {stream: set() for stream in TEXT_FIELDS}
        for name, plan in plans.items():
            self._index(name, plan)
        self._refresh()
        self.by_patient: dict[str, set[str]] = {}
        self.values_left_out: Counter[str] = Counter()
        self.unmapped: Counter[str] = Counter()
        self.records_left_out: Counter[str] = Counter()
        self.masked: Counter[tuple[str, str]] = Counter()
        self.at_run_time: dict[str, str] = {}

    @staticmethod
    def _catalogue(mapping: dict) -> dict[str, dict]:
        """Every PHI mark of the mapping → its label and the reason the mapping gives."""
        found = {}
        for stream, entry in mapping["streams"].items():
            entry = entry or {}
            if entry.get("phi"):
                found[stream] = {"label": stream, "why": entry.get("reason", "")}
            for section in ("fields", "custom_fields"):
                for source, raw in (entry.get(section) or {}).items():
                    rules = [rule for rule in (raw if isinstance(raw, list) else [raw]) if isinstance(rule, dict)]
                    if any(rule.get("phi") for rule in rules):
                        first = rules[0]
                        found[phi.mark_of(stream, section, source)] = {
                            "label": first.get("label") or source, "why": first.get("reason", "")}
        return found

    def _refresh(self) -> None:
        """Which streams `observe` has work for (most have none: one set test per record)."""
        self.observed = {name for name, plan in self.plans.items()
                         if plan.phi_left_out or self.dropped_fields[name] or self.dropped_custom[name]}
        if self.observed:
            self.observed.add("patients")  # unmapped patient fields are PHI too: remembered for masking
        self.active = bool(self.observed)

    def _index(self, name: str, plan) -> None:  # noqa: ANN001 (a StreamPlan)
        self.dropped_fields[name] = {mark.removeprefix("fields.") for mark in plan.phi_dropped
                                     if mark.startswith("fields.")}
        self.dropped_custom[name] = {mark.removeprefix("custom_fields.") for mark in plan.phi_dropped
                                     if mark.startswith("custom_fields.")}
        self.mapped_fields[name] = {rule.source for rule in plan.fields} | self.dropped_fields[name]
        self.carried_custom[name] = {rule.source for rule in plan.custom_fields}
        for rule in plan.fields + plan.custom_fields:
            if rule.is_custom and plan.target in self.free_text and rule.field_type in FREE_TEXT and not rule.format:
                self.free_text[plan.target].add(rule.logical_name)

    def leave_out(self, stream: str, name: str, why: str, plan) -> None:  # noqa: ANN001
        """A custom field PracticeHub marks PHI at run time that the mapping carries unconfirmed."""
        mark = phi.mark_of(stream, "custom_fields", name)
        self.at_run_time[mark] = why
        self.catalogue.setdefault(mark, {"label": name, "why": why})
        self._index(stream, plan)
        self._refresh()

    # --- input --------------------------------------------------------------------------------------

    def observe(self, stream: str, record: dict) -> None:
        """Count the left-out values of a source record; remember a patient's for masking."""
        if stream not in self.observed:
            return
        plan = self.plans.get(stream)
        if plan is not None and plan.phi_left_out:
            self.records_left_out[stream] += 1
            return
        dropped, dropped_custom = self.dropped_fields.get(stream) or (), self.dropped_custom.get(stream) or ()
        patient = stream == "patients"
        values: set[str] = set()
        for name in dropped:
            value = record.get(name)
            if value is not None and str(value).strip():
                self.values_left_out[phi.mark_of(stream, "fields", name)] += 1
                values |= _variants(value)
        if patient:
            mapped = self.mapped_fields.get(stream) or ()
            for name, value in record.items():
                if name not in mapped and name != "custom_fields" and isinstance(value, str):
                    values |= _variants(value)  # a field the mapping does not know: unclassified, so PHI
            items = record.get("custom_fields")
            carried = self.carried_custom.get(stream) or ()
            for item in items if isinstance(items, list) else ():
                if not isinstance(item, dict) or item.get("value") in (None, ""):
                    continue
                name = str(item.get("name"))
                if name in dropped_custom:
                    self.values_left_out[phi.mark_of(stream, "custom_fields", name)] += 1
                elif name not in carried:
                    self.unmapped[phi.mark_of(stream, "custom_fields", name)] += 1
                else:
                    continue
                values |= _variants(item.get("value"))
            if values and record.get("id") is not None:
                self.by_patient.setdefault(str(record["id"]), set()).update(values)

    # --- output -------------------------------------------------------------------------------------

    def clean(self, stream: str, record: dict, merged: dict[str, list]) -> dict:
        """The record with every left-out value of its patient masked in the text it sends."""
        if not self.by_patient or stream not in TEXT_FIELDS:
            return record
        owner = record.get("source_id") if stream == "persons" else record.get("person_source_id")
        if not isinstance(owner, str) or not owner.startswith("patients:"):
            return record
        survivor = owner.removeprefix("patients:")
        values = self.by_patient.get(survivor)
        if merged.get(survivor):
            values = set(values or ()).union(*(self.by_patient.get(str(other), ()) for other in merged[survivor]))
        if not values:
            return record
        custom = record.get("custom_fields") or {}
        free_text = self.free_text[stream]
        texts = [record.get(name) for name in TEXT_FIELDS[stream]]
        texts += [text for name, text in custom.items() if name in free_text]
        sent = "\x00".join(text for text in texts if isinstance(text, str)).casefold()
        if not any(map(sent.__contains__, values)):
            return record  # the common case: one pass over the record's text
        cleaned = None
        for name in TEXT_FIELDS[stream]:
            text = record.get(name)
            if isinstance(text, str) and text:
                masked = self._mask(text, values)
                if masked is not text:
                    cleaned = cleaned or {**record}
                    cleaned[name] = masked
                    self.masked[(stream, name)] += 1
        for name, text in custom.items():
            if name in free_text and isinstance(text, str) and text:
                masked = self._mask(text, values)
                if masked is not text:
                    cleaned = cleaned or {**record}
                    cleaned["custom_fields"] = {**cleaned["custom_fields"], name: masked}
                    self.masked[(stream, f"custom_fields.{name}")] += 1
        return cleaned or record

    @staticmethod
    def _mask(text: str, values: set[str]) -> str:
        """`text` itself when no value is in it (the common case: one substring test per value)."""
        lowered = text.casefold()
        hits = [value for value in values if value in lowered]
        if not hits:
            return text
        pattern = "|".join(re.escape(value) for value in sorted(hits, key=len, reverse=True))
        masked = re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", MASK, text, flags=re.IGNORECASE)
        return text if masked == text else masked

    # --- report -------------------------------------------------------------------------------------

    def report(self) -> dict:
        left_out = []
        for mark in sorted(self.catalogue):
            stream = mark.split(".", 1)[0]
            plan = self.plans.get(stream)
            if plan is None:
                continue
            whole = mark == stream
            if whole and not plan.phi_left_out:
                continue
            if not whole:
                section, _, source = mark.removeprefix(f"{stream}.").rpartition(".")
                key = f"{section or 'fields'}.{source}"
                if key not in plan.phi_dropped:
                    continue
            entry = {"mark": mark, **self.catalogue[mark],
                     ("records" if whole else "values"): (self.records_left_out if whole else self.values_left_out)[
                         mark]}
            if mark in self.at_run_time:
                entry["left_out_at_run_time"] = True
            left_out.append(entry)
        left_out += [{"mark": mark, "label": mark.rsplit(".", 1)[1], "why": "not in the mapping file: "
                      "unclassified patient data, so PHI", "values": count}
                     for mark, count in sorted(self.unmapped.items())]
        carried = sorted(mark for mark in self.catalogue if mark not in {item["mark"] for item in left_out})
        return {"policy": self.policy, "minimum_necessary": self.minimum_necessary,
                "left_out": left_out, "carried": carried, "confirmed_not_phi": self.confirmed_not_phi,
                "masked": [{"stream": stream, "field": name, "count": count}
                           for (stream, name), count in sorted(self.masked.items())]}

    def write(self, reports_dir: Path) -> dict:
        report = self.report()
        reports_dir.mkdir(parents=True, exist_ok=True)
        (reports_dir / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
        return report

