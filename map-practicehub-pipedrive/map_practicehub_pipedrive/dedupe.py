"""Two patients become one person only when they are the same person; every decision is reported.

"The same person" is target_pipedrive.identity's rule (the one the target adopts account persons by), with
the fields the mapping file's `dedupe.match_on` names: by default the same email, the same name and, where
both have one, the same date of birth. Same email, other identity: two persons, each keeping the email, and
a `kept_apart` row. The first patient seen survives, so a streamed run decides deterministically.

Decisions persist in `Reference`, so a delta run never re-decides: a merged patient stays merged, one kept
apart stays apart, and a change that would decide otherwise now is a `review` row, not a silent merge.
Reports name source ids and field names only, never a value (the date of birth is PHI: it is compared,
as a digest, even where phi_policy leaves it out of the output).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from target_pipedrive import identity

from map_practicehub_pipedrive.convert import BadValue, parse_date
from map_practicehub_pipedrive.mapping import dedupe_rule
from map_practicehub_pipedrive.reference import Reference

COLUMNS = ["run_id", "decision", "source_id", "other_source_id", "matched_on", "differs_on", "not_compared",
           "note"]
AMBIGUOUS = "matches more than one person sharing this email: merged with none"
NOW_MATCHES = "now the same person as other_source_id: kept apart, as decided in an earlier run"
NO_LONGER_MATCHES = "merged in an earlier run, now differs from other_source_id: still merged"
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def run_id_for(reports_dir: Path, wanted: str | None) -> str:
    """The configured run id, or the UTC start time; a suffix keeps an earlier run's report from being replaced."""
    base = UNSAFE_NAME.sub("-", wanted or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")).strip("-") or "run"
    candidate, number = base, 1
    while (reports_dir / f"dedupe-{candidate}.json").exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _source(patient_id: str) -> str:
    return f"patients:{patient_id}"


def _combined(verdicts: list[identity.Verdict]) -> identity.Verdict:
    """One verdict against every record of a person: the same only if every record agrees."""
    fields = identity.MATCH_FIELDS
    matched = set.intersection(*(set(v.matched_on) for v in verdicts))
    differs = set().union(*(v.differs_on for v in verdicts))
    missing = set().union(*(v.not_compared for v in verdicts)) - differs
    return identity.Verdict(all(v.same for v in verdicts), tuple(f for f in fields if f in matched),
                            tuple(f for f in fields if f in differs), tuple(f for f in fields if f in missing))


def birth_date_sources(mapping: dict) -> dict[str, list[str]]:
    """Source fields mapped to persons' `birthday`, by stream, whatever the PHI policy leaves in the output."""
    sources: dict[str, list[str]] = {}
    for stream, entry in mapping["streams"].items():
        if (entry or {}).get("target") != "persons":
            continue
        for source, rules in ((entry or {}).get("fields") or {}).items():
            if any(isinstance(rule, dict) and rule.get("target") == "birthday"
                   for rule in (rules if isinstance(rules, list) else [rules])):
                sources.setdefault(stream, []).append(source)
    return sources


class Dedupe:
    def __init__(self, reference: Reference, mapping: dict, run_id: str) -> None:
        self.reference = reference
        self.match_on = dedupe_rule(mapping)
        self.birth_date_sources = birth_date_sources(mapping)
        self.run_id = run_id
        self.rows_this_run: list[dict] = []

    @property
    def contract(self) -> dict:
        """What the persons SCHEMA tells the target: adopt account persons on the same rule."""
        return {"match_on": list(self.match_on), "rule": identity.rule_name(self.match_on)}

    def date_of_birth(self, stream: str, record: dict, order: str | None) -> str | None:
        """The date of birth to compare, read as the output reads it (PHI: compared as a digest, never
        written by this module). One that cannot be read is compared as written: it differs from every
        real date, so an unreadable date of birth never lets two people merge."""
        for source in self.birth_date_sources.get(stream, ()):
            raw = record.get(source)
            try:
                found = parse_date(raw, f"{stream}.{source}", order)
            except BadValue:
                found = identity.normalise_date(raw)
            if found:
                return found
        return None

    def survivor_of(self, patient_id: object) -> str | None:
        return self.reference.survivors.get(str(patient_id))

    def resolve(self, patient_id: str, email: str | None, name: str | None, date_of_birth: object) -> str:
        """The survivor for this patient: itself, unless exactly one earlier person is the same person."""
        reference = self.reference
        found = identity.fingerprint(email, name, date_of_birth)
        known = reference.survivors.get(patient_id)
        if known is not None:
            if found != reference.fingerprints.get(patient_id):
                self._remember(patient_id, found)
                self._review(patient_id, known, found)
            return known
        survivor = patient_id
        if found is not None:
            same, apart = self._compare_with_persons(patient_id, found, exclude=None)
            if len(same) == 1:
                survivor = same[0][0]
                self._decide("merged", patient_id, survivor, same[0][1])
            else:
                for other, verdict in apart:
                    self._decide("kept_apart", patient_id, other, verdict)
                for other, verdict in same:
                    self._decide("kept_apart", patient_id, other, verdict, AMBIGUOUS)
        reference.survivors[patient_id] = survivor
        if survivor != patient_id:
            reference.merged.setdefault(survivor, []).append(patient_id)
        self._remember(patient_id, found)
        return survivor

    def merged_source_ids(self, survivor: str) -> list[str]:
        return [_source(patient) for patient in self.reference.merged.get(survivor, [])]

    # --- comparing ------------------------------------------------------------------------------------

    def _compare_with_persons(self, patient_id: str, found: dict, exclude: str | None):
        """(survivor, verdict) of each other person with a record sharing this email: the same ones, the others.

        A person is compared by its records with this email only (a digest is salted with the email)."""
        reference = self.reference
        records_of: dict[str, list[str]] = {}
        for other in reference.email_groups.get(found[identity.EMAIL], ()):
            survivor = reference.survivors.get(other, other)
            if other != patient_id and survivor != exclude:
                records_of.setdefault(survivor, []).append(other)
        same, apart = [], []
        for survivor, records in records_of.items():
            verdict = _combined([identity.compare(found, reference.fingerprints.get(record) or {}, self.match_on)
                                 for record in records])
            (same if verdict.same else apart).append((survivor, verdict))
        return same, apart

    def _review(self, patient_id: str, survivor: str, found: dict | None) -> None:
        """A known patient changed: say where the earlier decision and today's data disagree; change nothing."""
        if found is None:
            return
        reference = self.reference
        own = [record for record in [survivor, *reference.merged.get(survivor, [])]
               if record != patient_id and record in reference.email_groups.get(found[identity.EMAIL], ())]
        for record in own:
            verdict = identity.compare(found, reference.fingerprints.get(record) or {}, self.match_on)
            if not verdict.same:
                self._decide("review", patient_id, record, verdict, NO_LONGER_MATCHES)
        same, _ = self._compare_with_persons(patient_id, found, exclude=survivor)
        for other, verdict in same:
            self._decide("review", patient_id, other, verdict, NOW_MATCHES)

    def _remember(self, patient_id: str, found: dict | None) -> None:
        reference = self.reference
        earlier = reference.fingerprints.get(patient_id)
        if earlier is not None and (found is None or earlier[identity.EMAIL] != found[identity.EMAIL]):
            group = reference.email_groups.get(earlier[identity.EMAIL], [])
            if patient_id in group:
                group.remove(patient_id)
        if found is None:
            reference.fingerprints.pop(patient_id, None)
        else:
            reference.fingerprints[patient_id] = found
            group = reference.email_groups.setdefault(found[identity.EMAIL], [])
            if patient_id not in group:
                group.append(patient_id)
        reference.dirty = True

    def _decide(self, decision: str, patient_id: str, other: str, verdict: identity.Verdict,
                note: str = "") -> None:
        row = {"run_id": self.run_id, "decision": decision, "source_id": _source(patient_id),
               "other_source_id": _source(other), "matched_on": list(verdict.matched_on),
               "differs_on": list(verdict.differs_on), "not_compared": list(verdict.not_compared), "note": note}
        if decision == "kept_apart" and not self.match_on:
            row["note"] = "dedupe is off in the mapping file"
        self.rows_this_run.append(row)
        decisions = self.reference.dedupe_decisions
        key = f"{decision} {row['source_id']} {row['other_source_id']} {note}"
        decisions[key] = {**row, "seq": decisions.get(key, {}).get("seq", len(decisions))}

    # --- reports --------------------------------------------------------------------------------------

    def write_report(self, reports_dir: Path, *, cumulative: bool, sample: bool = False) -> None:
        """`dedupe-<run id>.csv/json` for this run; with `cumulative`, `dedupe.csv/json` for the whole migration."""
        reports_dir.mkdir(parents=True, exist_ok=True)
        _write(reports_dir / f"dedupe-{self.run_id}", self.rows_this_run,
               {"run_id": self.run_id, "sample": sample, "rule": self.contract})
        if cumulative:
            rows = [{k: v for k, v in row.items() if k != "seq"}
                    for row in sorted(self.reference.dedupe_decisions.values(), key=lambda row: row["seq"])]
            runs = list(dict.fromkeys(row["run_id"] for row in rows))
            _write(reports_dir / "dedupe", rows, {"scope": "migration", "runs": runs, "rule": self.contract})


def shared_email_groups(rows: list[dict]) -> list[dict]:
    """Persons kept apart though they share an email, grouped (source ids only): union of the kept-apart pairs."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    pairs = [row for row in rows if row["decision"] == "kept_apart"]
    for row in pairs:
        parent[root(row["source_id"])] = root(row["other_source_id"])
    groups: dict[str, dict] = {}
    for row in pairs:
        group = groups.setdefault(root(row["source_id"]), {"persons": [], "kept_apart": []})
        for person in (row["other_source_id"], row["source_id"]):
            if person not in group["persons"]:
                group["persons"].append(person)
        group["kept_apart"].append({key: row[key] for key in ("source_id", "other_source_id", "differs_on",
                                                              "not_compared", "note", "run_id")})
    return list(groups.values())


def _write(stem: Path, rows: list[dict], header: dict) -> None:
    with stem.parent.joinpath(stem.name + ".csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **{key: "+".join(row[key]) for key in ("matched_on", "differs_on",
                                                                          "not_compared")}})
    merges = [{"survivor_source_id": row["other_source_id"], "merged_source_id": row["source_id"],
               "matched_on": row["matched_on"], "not_compared": row["not_compared"], "run_id": row["run_id"]}
              for row in rows if row["decision"] == "merged"]
    kept_apart = [row for row in rows if row["decision"] == "kept_apart"]
    review = [row for row in rows if row["decision"] == "review"]
    report = {**header, "counts": {"merged": len(merges), "kept_apart": len(kept_apart), "review": len(review)},
              "merges": merges, "kept_apart": kept_apart, "shared_email_groups": shared_email_groups(rows),
              "review": review}
    stem.parent.joinpath(stem.name + ".json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
