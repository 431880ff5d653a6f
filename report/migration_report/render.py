"""The page: the summary rendered through the package's Jinja2 templates, autoescaped.

Every value from the inputs reaches the page through a template, so it is escaped there (attribute values
too); nothing here builds markup. The charts' geometry comes from charts.py, their markup from
templates/charts.html.j2.
"""

from __future__ import annotations

from functools import cache

import jinja2

from migration_report import charts

MAX_TABLE_ROWS = 500  # longer lists stay in the CSV and the JSON summary
# Written as-is in templates/page.html.j2 (a policy is not data to escape); the tests hold the page to it.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render(summary: dict) -> str:
    """The HTML page for a summary as summary.summarise returns it."""
    return environment().get_template("page.html.j2").render(
        summary=summary, charts=chart_models(summary), max_rows=MAX_TABLE_ROWS
    )


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("migration_report", "templates"),
        autoescape=True,  # every template, whatever its name: the page, its sections, the charts
        undefined=jinja2.StrictUndefined,  # a key the summary lacks is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # package data: no need to look at the files again on every include
    )
    env.filters.update(shown=shown, thousands=thousands, signed=signed)
    return env


def shown(value: object) -> str:
    """A figure as the page shows it: whole numbers with thousands separators, anything else as it is."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def thousands(value: int) -> str:
    return f"{value:,}"


def signed(value: int) -> str:
    return f"{value:+,}"


def chart_models(summary: dict) -> dict[str, charts.Chart]:
    """The charts the page draws (records always; throughput and budget when their data is there)."""
    models = {
        "source": charts.stacked_bars(
            "source",
            "PracticeHub records by outcome",
            [(row["stream"], row) for row in summary["source_reconciliation"]],
            [("out", "sent to Pipedrive"), ("merged", "merged"), ("skipped", "skipped"),
             ("kept_aside", "not loaded by design")],
        ),
        "load": charts.stacked_bars(
            "load",
            "Pipedrive records by outcome",
            [(row["stream"], row) for row in summary["load_reconciliation"]],
            [("created", "created"), ("updated", "updated"), ("unchanged", "unchanged"), ("skipped", "skipped"),
             ("waiting", "waiting for a parent"), ("failed", "failed")],
        ),
    }
    speed, spend = summary["throughput"], summary["budget"]
    if speed["available"] and speed["per_second"]:
        models["throughput"] = charts.timeline(
            "throughput", "Calls per second and 429 responses over time", speed["series"], speed["seconds_per_point"]
        )
    if spend["available"]:
        others = None if spend["daily_limit"] is None else spend["used_by_others"]
        models["budget"] = charts.budget_bar("budget", "Daily token budget", spend["used_by_run"], others,
                                             spend["remaining"])
    return models
