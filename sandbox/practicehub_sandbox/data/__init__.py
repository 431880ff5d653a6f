"""Datasets the sandbox serves: generated profiles (tiny, demo, clinic-50k) or a JSON file."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

from ..resources import RESOURCE_FIELDS
from .generator import add_unfamiliar_phi_field, build_dataset
from .profiles import PROFILES, profile_counts

__all__ = ["PROFILES", "DatasetError", "add_unfamiliar_phi_field", "generate", "load_dataset", "profile_counts"]

_CACHE_LIMIT = 5_000  # records; small profiles are cached because tests start many sandboxes
_cache: dict[tuple[str, int], dict[str, list[dict]]] = {}
_cache_lock = threading.Lock()


class DatasetError(ValueError):
    """A dataset name or file the sandbox cannot serve."""


def generate(profile: str, seed: int = 0) -> dict[str, list[dict]]:
    """Every resource's records for a profile; the same profile and seed always give the same records.

    Returns a fresh copy each call, so callers may change it.
    """
    if profile not in PROFILES:
        raise DatasetError(f"unknown dataset profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if sum(profile_counts(profile).values()) > _CACHE_LIMIT:
        return build_dataset(profile, int(seed))  # copying would cost as much as building
    key = (profile, int(seed))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = build_dataset(profile, int(seed))
        return copy.deepcopy(_cache[key])


def load_file(path: str | Path) -> dict[str, list[dict]]:
    """Records from ``{"<resource>": [records exactly as the API returns them], ...}``; missing = empty."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read dataset file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise DatasetError(f"dataset file {path} must hold a JSON object keyed by resource")
    unknown = sorted(set(raw) - set(RESOURCE_FIELDS))
    if unknown:
        raise DatasetError(f"dataset file {path} has unknown resources: {', '.join(unknown)}")
    dataset: dict[str, list[dict]] = {}
    for resource in RESOURCE_FIELDS:
        records = raw.get(resource, [])
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise DatasetError(f"dataset file {path}: {resource} must be a list of objects")
        bad = [r for r in records if not isinstance(r.get("id"), int)]
        if bad:
            raise DatasetError(f"dataset file {path}: {len(bad)} {resource} record(s) lack an integer id")
        ids = [r["id"] for r in records]
        if len(ids) != len(set(ids)):
            raise DatasetError(f"dataset file {path}: {resource} has {len(ids) - len(set(ids))} duplicate id(s)")
        dataset[resource] = records
    return dataset


def load_dataset(name_or_path: str, seed: int = 0) -> dict[str, list[dict]]:
    """A profile name (tiny, demo, clinic-50k) or the path of a JSON dataset file."""
    if name_or_path in PROFILES:
        return generate(name_or_path, seed)
    if name_or_path.endswith(".json") or Path(name_or_path).exists():
        return load_file(name_or_path)
    raise DatasetError(f"unknown dataset {name_or_path!r}: use {', '.join(PROFILES)} or a .json file")
