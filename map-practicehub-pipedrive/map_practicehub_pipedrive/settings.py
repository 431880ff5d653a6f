"""The mapper's settings: the JSON schema the SDK shows (`--about`) and validates every run's config against."""

from __future__ import annotations

from map_practicehub_pipedrive.workflows import DEFAULT_AUTOMATION_CAP


def _setting(kind: str, description: str, **extra: object) -> dict:
    return {"type": [kind, "null"], **extra, "description": description}


CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "mapping_file": {"type": ["string"],
                         "description": "The confirmed mapping file (YAML); make one with `propose`, then `confirm`."},
        "phi_policy": _setting("string", "refuse: do not start; exclude: leave PHI out; include: needs baa_reference.",
                               default="refuse", enum=["refuse", "exclude", "include"]),
        "baa_reference": _setting("string", "The Business Associate Agreement with Pipedrive (required for "
                                            "phi_policy include)."),
        "sample_size": _setting("integer", "Sample mode: migrate a representative slice of this many appointments "
                                           "(100-500).", minimum=100, maximum=500),
        "reports_dir": _setting("string", "Where reconciliation.json, dedupe.csv/json (the whole migration), "
                                          "dedupe-<run_id>.csv/json and workflows.md/json go.",
                                default="reports/map-practicehub-pipedrive"),
        "run_id": _setting("string", "Names this run's de-dup report, dedupe-<run_id>.json (default: the UTC "
                                     "start time, YYYYMMDDTHHMMSSZ)."),
        "state_dir": _setting("string", "Where the merge map and lookups for delta runs live (default "
                                        "reports_dir/state)."),
        "source_timezone": _setting("string", "PracticeHub account time zone (IANA name) of its naive datetimes: "
                                              "set it from the same value as tap-practicehub's `timezone`.",
                                    default="UTC"),
        "currency": _setting("string", "Deal currency (ISO 4217).", default="USD"),
        "date_order": _setting("string", "How the practice writes numeric dates (DMY in the UK and ANZ, MDY in "
                                         "the US): settles dates such as 03/04/2024 in custom fields; unset, a "
                                         "date that reads two ways is kept as entered and reported.",
                               enum=["DMY", "MDY", "YMD"]),
        "reconcile": _setting("boolean", "The source-side check's pass (`meltano run reconcile`): reads the "
                                         "migration's state and never writes it."),
        "automation_cap": _setting("integer", "Active automations the Pipedrive plan allows (Lite 0, Growth 50, "
                                              "Premium 150, Ultimate 250).", default=DEFAULT_AUTOMATION_CAP),
    },
    "required": ["mapping_file"],
    "$schema": "https://json-schema.org/draft/2020-12/schema",
}


def without_blanks(config: dict) -> dict:
    """The config without optional settings given as "" or null (an unset $VARIABLE in meltano.yml arrives as
    ""): they count as unset, so their defaults apply, rather than as invalid values."""
    return {name: value for name, value in config.items()
            if name in CONFIG_SCHEMA["required"] or value not in ("", None)}
