"""The report page: sections rendered from the summary dict, every figure in a `data-metric` element.

The whole migration (totals and the runs) comes first, then the latest run's sections under one heading.

All text from the inputs goes through `escape` (attribute values too). The page loads nothing:
a Content-Security-Policy forbids any network fetch, styles and the one check script are inline.
"""

from __future__ import annotations

from html import escape

from target_pipedrive.report_templates import charts

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:980px;
padding:24px;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{margin-top:1.6em}tr.latest td{font-weight:600}
table[data-table=runs]{font-size:.8em}table[data-table=runs] :is(th,td){padding:4px 4px}.nowrap{white-space:nowrap}
.muted{color:#666}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:120px}
.card .value{font-size:1.5em;font-weight:600;display:block}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 10px;text-align:right}
th:first-child,td:first-child,td.text,th.text{text-align:left}
.ok{color:#00734f;font-weight:600}.bad{color:#b00020;font-weight:700}
tr.bad td{background:#fde8ea}.banner{padding:10px 14px;border-radius:8px;font-weight:600}
.banner.ok{background:#e3f5ec}.banner.bad{background:#fde8ea}
svg.chart{max-width:100%;height:auto;font-size:12px;display:block;margin:8px 0}
svg .axis{stroke:#999}svg .legend{font-size:11px}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
@media print{h2,h3{break-after:avoid}svg.chart{break-inside:avoid}}
"""

# Runs on load: measures every chart and writes the result on <body> (headless tests read it).
CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var charts = document.querySelectorAll("svg.chart"), drawn = 0;
  charts.forEach(function (svg) {
    var box = svg.getBBox(), rect = svg.getBoundingClientRect();
    var ok = box.width > 0 && box.height > 0 && rect.width > 0 && rect.height > 0;
    svg.setAttribute("data-size", Math.round(rect.width) + "x" + Math.round(rect.height));
    if (ok) { drawn += 1; }
  });
  document.body.setAttribute("data-charts", String(charts.length));
  document.body.setAttribute("data-charts-drawn", String(drawn));
  document.body.setAttribute("data-drawn", drawn === charts.length && charts.length > 0 ? "yes" : "no");
});
"""

MAX_TABLE_ROWS = 500  # longer lists stay in the CSV and the JSON summary
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def metric(name: str, value: object, css: str = "") -> str:
    shown = f"{value:,}" if isinstance(value, int) else str(value)
    style = f' class="{css}"' if css else ""
    return (
        f'<span{style} data-metric="{escape(name)}" data-value="{escape(str(value))}">{escape(shown)}</span>'
    )


def flag(name: str, balanced: bool, difference: int = 0) -> str:
    if balanced:
        return f'<span class="ok" data-check="{escape(name)}" data-status="ok" title="adds up">✓</span>'
    detail = f" off by {difference:+,}" if difference else " not all landed"
    return (
        f'<span class="bad" data-check="{escape(name)}" data-status="mismatch" '
        f'title="does not add up">✗{escape(detail)}</span>'
    )


def table(headers: list[str], rows: list[str], name: str, text_columns: int = 1) -> str:
    head = "".join(
        f'<th class="text">{escape(header)}</th>' if index < text_columns else f"<th>{escape(header)}</th>"
        for index, header in enumerate(headers)
    )
    if not rows:
        rows = [f'<tr><td class="text" colspan="{len(headers)}">none</td></tr>']
    return f'<table data-table="{escape(name)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def row(cells: list[str], bad: bool = False) -> str:
    return f"<tr{' class=bad' if bad else ''}>" + "".join(cells) + "</tr>"


def cell(content: str, text: bool = False) -> str:
    return f'<td class="text">{content}</td>' if text else f"<td>{content}</td>"


def unavailable(what: str) -> str:
    return f'<p class="muted">{escape(what)} not available (see input problems below).</p>'


# --- sections ---------------------------------------------------------------------------------------


def run_line(summary: dict) -> str:
    run = summary["run"]
    status = run["status"]
    note = (
        ""
        if status == "completed"
        else f' <strong class="bad">{escape(run["message"] or "The load did not finish.")}</strong>'
    )
    return (
        f'<p class="muted">Generated {escape(summary["generated_at"])}; {metric("runs.count", len(summary["runs"]))} '
        f"load runs; the latest, {metric('run.run_id', run['run_id'] or 'unknown')}, status "
        f"{metric('run.status', status)}.{note}</p>"
    )


def migration_section(summary: dict) -> str:
    found = summary["migration"]
    title = "<h2>The whole migration</h2>"
    if not found["available"]:
        return title + unavailable("The target's ledger (ledger.sqlite)")
    totals = found["totals"]
    cards = [
        ("created", "created in Pipedrive"),
        ("updated", "updated at least once"),
        ("adopted", "existing Pipedrive records updated"),
        ("rolled_back", "undone by a rollback"),
        ("skipped", "skipped, never landed"),
    ]
    body = "".join(
        f'<div class="card">{metric("migration." + key, totals[key], "value")}{escape(label)}</div>'
        for key, label in cards
    )
    keys = ("created", "updated", "adopted", "rolled_back", "skipped")
    rows = [
        row(
            [cell(escape(r["stream"]), text=True)]
            + [cell(metric(f"migration.{r['stream']}.{key}", r[key])) for key in keys]
        )
        for r in found["streams"]
    ]
    return (
        title + "<p>Every run of this migration together, from the target's ledger of its writes: what is in"
        " Pipedrive now. Records a rollback removed are not counted as created.</p>"
        + f'<div class="cards">{body}</div>'
        + table(
            [
                "stream",
                "created (still in Pipedrive)",
                "updated at least once",
                "existing records updated",
                "undone by a rollback",
                "skipped, never landed",
            ],
            rows,
            "migration",
        )
        + '<p class="muted">A record created in one run and changed by a later run counts once as created and'
        " once as updated. Existing records updated are records already in your Pipedrive account that the"
        ' migration matched (same e-mail or name) and updated; they are part of "updated at least once".'
        " Skipped counts each record once, over all runs, unless a later run landed it: the mapper's skips"
        " are listed under their PracticeHub stream, the target's under the Pipedrive object.</p>"
    )


def runs_section(summary: dict) -> str:
    runs = summary["runs"]
    shown = runs[-MAX_TABLE_ROWS:]
    keys = ("received", "created", "updated", "unchanged", "skipped", "calls", "status_429", "tokens")
    rows = []
    for r in shown:
        status = (
            escape(r["status"])
            if r["status"] == "completed"
            else f'<span class="bad">{escape(r["status"])}</span>'
        )
        label = escape(r["run_id"]) + (" <strong>(latest)</strong>" if r["latest"] else "")
        cells = [
            cell(label, True),
            cell(f'<span class="nowrap">{escape(r["started_at"] or "unknown")}</span>', True),
            cell(status, True),
        ]
        rows.append(
            f"<tr{' class=latest' if r['latest'] else ''}>"
            + "".join(cells)
            + "".join(cell(metric(f"runs.{r['run_id']}.{key}", r[key])) for key in keys)
            + "</tr>"
        )
    more = (
        f"<p>The last {MAX_TABLE_ROWS:,} of {len(runs):,} runs are shown; all are in the JSON summary.</p>"
        if len(runs) > len(shown)
        else ""
    )
    return (
        "<h2>Runs</h2><p>Every load run of this state folder, oldest first (from each run's"
        " <code>summary-&lt;run id&gt;.json</code>). A run counts what it did itself: a record created by"
        " the full run and changed later is created in one row and updated in another.</p>"
        + table(
            [
                "run",
                "started (UTC)",
                "status",
                "received",
                "created",
                "updated",
                "unchanged",
                "skipped",
                "API calls",
                "429s",
                "tokens",
            ],
            rows,
            "runs",
            3,
        )
        + more
    )


def latest_run_heading(summary: dict) -> str:
    return (
        f"<h2>Latest run ({escape(summary['run']['run_id'] or 'unknown')})</h2>"
        "<p>The sections below describe the latest run only: what the mapper sent and the target did in it.</p>"
    )


def summary_section(summary: dict) -> str:
    totals = summary["totals"]
    ok = summary["reconciled"]
    banner = (
        "Every record is accounted for: the counts reconcile."
        if ok
        else "Some counts do not reconcile or an input is missing: see the rows marked ✗ and the input problems."
    )
    cards = [
        ("records_in", "PracticeHub records read"),
        ("landed", "landed in Pipedrive"),
        ("created", "created"),
        ("updated", "updated"),
        ("unchanged", "unchanged"),
        ("merged", "merged duplicates"),
        ("skipped_by_mapper", "skipped by the mapper"),
        ("skipped_by_target", "skipped by the target"),
        ("kept_aside", "not loaded by design"),
        ("failed", "failed or still waiting"),
    ]
    body = "".join(
        f'<div class="card">{metric("totals." + key, totals[key], "value")}{escape(label)}</div>'
        for key, label in cards
    )
    status = "ok" if ok else "mismatch"
    return (
        f'<p class="banner {"ok" if ok else "bad"}" data-check="overall" data-status="{status}">'
        f'{"✓" if ok else "✗"} {escape(banner)}</p><div class="cards">{body}</div>'
        '<p class="muted">Counts are for the latest run. Several PracticeHub streams can feed one Pipedrive object '
        "(clinical notes, invoices and payments all become notes) and a merged patient's person is sent again "
        "with both IDs, so the two sides are reconciled step by step below rather than against each other.</p>"
    )


def records_section(summary: dict) -> str:
    source_rows = [(row["stream"], row) for row in summary["source_reconciliation"]]
    load_rows = [(row["stream"], row) for row in summary["load_reconciliation"]]
    parts = [
        "<h3>Records per object</h3>",
        "<p>What happened to each PracticeHub record (the mapper's view):</p>",
        charts.stacked_bars(
            "source",
            "PracticeHub records by outcome",
            source_rows,
            [
                ("out", "sent to Pipedrive"),
                ("merged", "merged"),
                ("skipped", "skipped"),
                ("kept_aside", "not loaded by design"),
            ],
        ),
        "<p>What landed in Pipedrive (the target's view):</p>",
        charts.stacked_bars(
            "load",
            "Pipedrive records by outcome",
            load_rows,
            [
                ("created", "created"),
                ("updated", "updated"),
                ("unchanged", "unchanged"),
                ("skipped", "skipped"),
                ("waiting", "waiting for a parent"),
                ("failed", "failed"),
            ],
        ),
    ]
    return "".join(parts)


def reconciliation_section(summary: dict) -> str:
    source = [
        row(
            [cell(escape(r["stream"]), text=True)]
            + [
                cell(metric(f"source.{r['stream']}.{key}", r[key]))
                for key in ("in", "out", "merged", "skipped", "kept_aside")
            ]
            + [cell(flag(f"source.{r['stream']}", r["balanced"], r["difference"]))],
            bad=not r["balanced"],
        )
        for r in summary["source_reconciliation"]
    ]
    handover = [
        row(
            [
                cell(escape(r["stream"]), text=True),
                cell(metric(f"handover.{r['stream']}.emitted", r["emitted"])),
                cell(metric(f"handover.{r['stream']}.received", r["received"])),
                cell(flag(f"handover.{r['stream']}", r["balanced"], r["difference"])),
            ],
            bad=not r["balanced"],
        )
        for r in summary["handover_reconciliation"]
    ]
    load = [
        row(
            [cell(escape(r["stream"]), text=True)]
            + [
                cell(metric(f"load.{r['stream']}.{key}", r[key]))
                for key in ("received", "created", "updated", "unchanged", "skipped", "waiting", "failed")
            ]
            + [cell(flag(f"load.{r['stream']}", r["balanced"], r["difference"]))],
            bad=not r["balanced"],
        )
        for r in summary["load_reconciliation"]
    ]
    return (
        "<h3>Reconciliation</h3>"
        "<p>1. Each PracticeHub record: read = sent + merged + skipped + not loaded by design (reference data"
        " such as practitioners and appointment types, workflows documented in the rebuild guide, records left"
        " out of a sample).</p>"
        + table(
            ["PracticeHub stream", "read", "sent", "merged", "skipped", "not loaded by design", "check"],
            source,
            "source",
        )
        + "<p>2. Hand-over: what the mapper sent = what the target received (skipped = skip-file entries).</p>"
        + table(["stream", "sent by mapper", "received by target", "check"], handover, "handover")
        + "<p>3. Each record the target received: created + updated + unchanged + skipped + waiting + failed"
        " (and nothing is still waiting or failed).</p>"
        + table(
            [
                "Pipedrive object",
                "received",
                "created",
                "updated",
                "unchanged",
                "skipped",
                "waiting",
                "failed",
                "check",
            ],
            load,
            "load",
        )
    )


def throughput_section(summary: dict) -> str:
    speed = summary["throughput"]
    if not speed["available"]:
        return "<h3>Throughput and rate limits</h3>" + unavailable("The request metrics (metrics.jsonl)")
    interval = speed["seconds_per_point"]
    peak = (
        f", peak {metric('throughput.peak_calls_per_second', speed['peak_calls_per_second'])}/s"
        if speed["per_second"]
        else ""
    )
    facts = (
        f"<p>{metric('throughput.calls', speed['calls'])} API calls in "
        f"{metric('throughput.seconds', speed['seconds'])} s "
        f"(average {metric('throughput.average_calls_per_second', speed['average_calls_per_second'])}/s"
        f"{peak}); "
        f"{metric('throughput.status_429', speed['status_429'])} answered 429 (rate limited, then retried); "
        f"{metric('throughput.tokens', speed['tokens'])} API tokens spent.</p>"
    )
    if not speed["per_second"]:
        return (
            "<h3>Throughput and rate limits</h3>" + facts + '<p class="muted">No per-second metrics '
            "(metrics.jsonl) for this run: the chart over time is not available.</p>"
        )
    return (
        "<h3>Throughput and rate limits</h3>"
        + facts
        + f"<p>Each point of the chart is {interval} second{'s' if interval != 1 else ''}.</p>"
        + charts.timeline(
            "throughput", "Calls per second and 429 responses over time", speed["series"], interval
        )
    )


def estimate_line(summary: dict) -> str:
    estimate = summary.get("estimate") or {}
    if not estimate.get("available"):
        return ""
    accuracy = estimate["accuracy"]
    shown = metric("estimate.accuracy", accuracy) if accuracy is not None else "—"
    return (f"<p>Token estimate: {metric('estimate.estimated', estimate['estimated'])} planned "
            f"({escape(estimate['basis'])}), {metric('estimate.used', estimate['used'])} used: "
            f"used ÷ planned = {shown}.</p>")


def budget_section(summary: dict) -> str:
    return _budget_section(summary) + estimate_line(summary)


def _budget_section(summary: dict) -> str:
    spend = summary["budget"]
    if not spend["available"]:
        return "<h3>Daily API budget</h3>" + unavailable(
            "The daily budget (summary.json api.daily_tokens_remaining)"
        )
    if spend["daily_limit"] is None:
        return (
            "<h3>Daily API budget</h3>"
            f"<p>This run used {metric('budget.used_by_run', spend['used_by_run'])} tokens; "
            f"{metric('budget.remaining', spend['remaining'])} remained of the company's daily budget when it "
            "ended (Pipedrive did not report the daily limit).</p>"
            + charts.budget_bar(
                "budget", "Daily token budget", spend["used_by_run"], None, spend["remaining"]
            )
        )
    return (
        "<h3>Daily API budget</h3>"
        f"<p>This run used {metric('budget.used_by_run', spend['used_by_run'])} tokens; other use today "
        f"{metric('budget.used_by_others', spend['used_by_others'])}; "
        f"{metric('budget.remaining', spend['remaining'])} remain of the company's daily "
        f"{metric('budget.daily_limit', spend['daily_limit'])} "
        f"({metric('budget.percent_used', spend['percent_used'])}% used). The budget resets at midnight"
        " (Pipedrive's server time); a load that runs out resumes after the reset.</p>"
        + charts.budget_bar(
            "budget", "Daily token budget", spend["used_by_run"], spend["used_by_others"], spend["remaining"]
        )
    )


def practitioners_section(summary: dict) -> str:
    people = summary["unmatched_practitioners"]
    rows = [
        row(
            [
                cell(escape(p["name"]), True),
                cell(escape(p["source_id"]), True),
                cell(escape(p["email"]), True),
                cell(escape(p["fallback_owner"]), True),
                cell(metric(f"unmatched.{p['source_id']}.records", p["records"])),
            ]
        )
        for p in people
    ]
    return (
        "<h3>Practitioners without a Pipedrive user</h3>"
        f"<p>{metric('unmatched.count', len(people))} practitioners had no matching Pipedrive user; their "
        "records belong to the fallback owner until you reassign them.</p>"
        + table(
            ["practitioner", "PracticeHub ID", "email", "fallback owner", "records"], rows, "unmatched", 4
        )
    )


def _more(summary: dict, shown: int, total: int) -> str:
    """Under a table cut at MAX_TABLE_ROWS: where the rest is."""
    if total <= shown:
        return ""
    target = summary["links"].get("dedupe_csv")
    where = f'<a href="{escape(target)}" data-link="dedupe_csv">dedupe.csv</a>' if target else "dedupe.csv"
    return f"<p>The first {shown:,} are shown; all of them are in {where} and the JSON summary.</p>"


def dedupe_section(summary: dict) -> str:
    """Merges and shared-email groups with their evidence: PracticeHub IDs and field names, never values."""
    found = summary["dedupe"]
    if not found["available"]:
        return "<h3>Duplicate patients merged</h3>" + unavailable("The de-duplication report (dedupe.json)")
    rule = found.get("rule")
    rule_text = f" (the mapping file's rule: same {escape(rule)})" if rule else ""
    merges = found["merges"][:MAX_TABLE_ROWS]
    merge_rows = [
        row([cell(escape(m["survivor_source_id"]), True), cell(escape(m["merged_source_id"]), True),
             cell(escape(m["matched_on"]), True), cell(escape(m.get("not_compared", "")), True)])
        for m in merges
    ]
    groups = found.get("shared_email_groups") or []
    group_rows = [
        row([cell(escape(", ".join(group["persons"])), True),
             cell("; ".join(f"{escape(pair['source_id'])} ≠ {escape(pair['other_source_id'])}: "
                            f"{escape(pair['differs_on'] or pair['note'] or 'not compared')}"
                            for pair in group["kept_apart"]), True)])
        for group in groups[:MAX_TABLE_ROWS]
    ]
    review_rows = [
        row([cell(escape(r["source_id"]), True), cell(escape(r["other_source_id"]), True),
             cell(escape(r["differs_on"] or r["matched_on"]), True), cell(escape(r["note"]), True)])
        for r in (found.get("review") or [])[:MAX_TABLE_ROWS]
    ]
    not_adopted = found.get("not_adopted") or []
    adoption_rows = [
        row([cell(escape(a["source_id"]), True), cell(escape(a["pipedrive_id"]), True),
             cell(escape(a["differs_on"] or a["note"]), True)])
        for a in not_adopted[:MAX_TABLE_ROWS]
    ]
    return (
        "<h3>Duplicate patients merged</h3>"
        f"<p>{metric('dedupe.merges', found['count'])} patient records were merged into another that is the same "
        f"person{rule_text}; the Pipedrive person keeps both PracticeHub IDs. “Not compared”: a field one of "
        "the two records had no value for.</p>"
        + table(["kept (PracticeHub ID)", "merged into it", "matched on", "not compared"], merge_rows, "dedupe", 4)
        + _more(summary, len(merges), found["count"])
        + "<h3>Shared email, kept apart</h3>"
        f"<p>{metric('dedupe.shared_email_groups', len(groups))} groups of patients share an email but are "
        f"different people ({metric('dedupe.kept_apart', found.get('kept_apart', 0))} pairs): each is its own "
        "Pipedrive person with the email. Why each pair was kept apart names the fields that differ.</p>"
        + table(["persons sharing one email (PracticeHub IDs)", "kept apart because"], group_rows,
                "shared_email_groups", 2)
        + _more(summary, len(group_rows), len(groups))
        + "<h3>De-duplication to review</h3>"
        f"<p>{metric('dedupe.review', len(found.get('review') or []))} later changes would decide otherwise "
        "today; the earlier decision stands until you merge or split the persons in Pipedrive by hand.</p>"
        + table(["PracticeHub ID", "other", "fields", "what changed"], review_rows, "dedupe_review", 4)
        + "<h3>Persons already in Pipedrive</h3>"
        f"<p>{metric('dedupe.adopted', len(found.get('adopted') or []))} patients were matched to a person "
        f"already in the account (same person, same rule) and updated there; "
        f"{metric('dedupe.not_adopted', len(not_adopted))} account persons with a patient's email were not "
        "adopted (another person, or already adopted by another patient):</p>"
        + table(["PracticeHub ID", "Pipedrive person ID", "not adopted because"], adoption_rows, "not_adopted", 3)
    )


def phi_section(summary: dict) -> str:
    found = summary["phi"]
    title = "<h3>PHI left out</h3>"
    if not found["available"]:
        return title + '<p class="muted">The mapper wrote no PHI report (phi.json): a mapper older than it.</p>'
    rows = [
        row([cell(f"<code>{escape(f['mark'])}</code>", True), cell(escape(f["label"]), True),
             cell(escape(f["why"]) + (" (PracticeHub marked it PHI during the run)" if f["at_run_time"] else ""), True),
             cell(metric(f"phi.left_out.{f['mark']}", f["count"]) + f" {f['unit']}")])
        for f in found["left_out"][:MAX_TABLE_ROWS]
    ]
    policy = found["policy"] or "unknown"
    lines = [f"<p>phi_policy <code>{escape(policy)}</code>: "
             f"{metric('phi.left_out.count', len(found['left_out']))} PHI fields and streams were left out of "
             "Pipedrive; every one is listed below with the number of values (or records) it held.</p>"]
    if found["minimum_necessary"]:
        lines.append("<p>Minimum necessary: only " + ", ".join(f"<code>{escape(m)}</code>" for m in
                                                               found["minimum_necessary"]) + " carried.</p>")
    if found["confirmed_not_phi"]:
        lines.append("<p>Sent as not PHI by the confirmed mapping although the source did not mark them so: "
                     + ", ".join(f"<code>{escape(m)}</code>" for m in found["confirmed_not_phi"]) + ".</p>")
    masked = sum(m["count"] for m in found["masked"])
    stripped = sum(found["target_stripped"].values()) + sum(found["target_refused"].values())
    lines.append(f"<p>{metric('phi.masked', masked)} left-out values found in other text (titles, notes, file "
                 f"names) were replaced by “[PHI removed]”; the target's own check kept out "
                 f"{metric('phi.target_kept_out', stripped)} more.</p>")
    return title + "".join(lines) + table(["field", "label", "why it is PHI", "left out"], rows, "phi", 3)


def skips_section(summary: dict) -> str:
    skips = summary["skips"]
    if not skips["available"]:
        return "<h3>Skipped records</h3>" + unavailable("The skip file (skipped.jsonl)")
    rows = [
        row(
            [
                cell("mapper" if s["origin"] == "transform" else "target", True),
                cell(escape(s["stream"]), True),
                cell(f"<code>{escape(s['reason'])}</code>", True),
                cell(metric(f"skips.{s['origin']}.{s['stream']}.{s['reason']}", s["count"])),
            ]
        )
        for s in skips["by_stream_reason"]
    ]
    return (
        "<h3>Skipped records</h3>"
        f"<p>{metric('skips.total', skips['total'])} records were skipped; each is listed with its reason "
        "in the skip file (summarised here without any patient detail).</p>"
        + table(["skipped by", "stream", "reason", "records"], rows, "skips", 3)
    )


SOURCE_COLUMNS = (("exact", "landed exactly"), ("degraded", "landed, values degraded"), ("merged", "merged"),
                  ("changed_in_pipedrive", "landed, changed in Pipedrive since"),
                  ("deleted_in_source", "landed, deleted in PracticeHub since"),
                  ("not_landed_accepted", "cannot exist in Pipedrive"), ("different", "landed, different"),
                  ("not_landed", "not landed"))


def source_check_section(summary: dict) -> str:
    check = summary["source_check"]
    heading = "<h2>Did every PracticeHub record arrive? (checked against the source)</h2>"
    if not check["available"]:
        return heading + (
            '<p class="muted">Not checked yet: run <code>meltano run reconcile</code> to re-read PracticeHub and '
            "compare every record with Pipedrive, then rebuild this report.</p>")
    rows = []
    for s in check["streams"]:
        reasons = ", ".join(f"{escape(reason)} ({count:,})" for reason, count in s["not_landed_reasons"].items())
        rows.append(row(
            [cell(escape(s["stream"]), True), cell(metric(f"source_check.{s['stream']}.records", s["records"]))]
            + [cell(metric(f"source_check.{s['stream']}.{key}", s[key])) for key, _ in SOURCE_COLUMNS]
            + [cell(reasons or "—", True), cell(flag(f"source_check.{s['stream']}", s["balanced"]))],
            bad=s["different"] + s["not_landed"] > 0))
    verdict = ("every record landed exactly, degraded as listed below, merged, or cannot exist in Pipedrive"
               if check["ok"] else "some records are missing or differ: see reconcile_differences.csv")
    return (
        heading
        + f"<p>PracticeHub was read again and compared with Pipedrive through the confirmed mapping: "
        f"{metric('source_check.unexplained', check['unexplained'])} records unexplained; {escape(verdict)}.</p>"
        + table(["PracticeHub stream", "records", *[label for _, label in SOURCE_COLUMNS], "why not landed", "check"],
                rows, "source_check", 1)
        + degraded_section(summary)
    )


def degraded_section(summary: dict) -> str:
    degraded = summary["degraded"]
    rows = [
        row([cell(escape(d["stream"]), True), cell(f"<code>{escape(d['field'])}</code>", True),
             cell(f"<code>{escape(d['reason'])}</code>", True), cell(escape(d["action"]), True),
             cell(metric(f"degraded.{d['stream']}.{d['field']}.{d['reason']}", d["count"]))])
        for d in degraded["by_field"][:MAX_TABLE_ROWS]
    ]
    return (
        "<h3>Values that did not arrive exactly</h3>"
        f"<p>{metric('degraded.total', degraded['total'])} values landed degraded (the record itself landed): "
        "kept as entered in a note on the record, shortened with the full text in a note, split into parts, "
        "replaced by a generated value, or cleaned of control characters. Listed by field, never by value.</p>"
        + table(["PracticeHub stream", "field", "reason", "what happened", "values"], rows, "degraded", 4)
    )


def verify_section(summary: dict) -> str:
    checked = summary["verify"]
    if not checked["available"]:
        return "<h2>Field-level verification</h2>" + unavailable(
            "The verification result (verify_summary.json)"
        )
    entities = [
        row(
            [
                cell(escape(e["entity"]), True),
                cell(metric(f"verify.{e['entity']}.checked", e["checked"])),
                cell(metric(f"verify.{e['entity']}.mismatched_records", e["mismatched_records"])),
            ],
            bad=e["mismatched_records"] > 0,
        )
        for e in checked["entities"]
    ]
    fields = [
        row(
            [
                cell(escape(m["entity"]), True),
                cell(f"<code>{escape(m['field'])}</code>", True),
                cell(metric(f"verify.{m['entity']}.{m['field']}", m["count"])),
            ],
            bad=m["count"] > 0,
        )
        for m in checked["mismatches"]
    ]
    changed = ", ".join(f"<code>{escape(f)}</code>" for f in checked.get("changed_in_pipedrive_fields") or [])
    return (
        "<h2>Field-level verification</h2>"
        f"<p>Pipedrive was read back and compared field by field: "
        f"{metric('verify.total_mismatches', checked['total_mismatches'])} field mismatches (landed wrong); "
        f"{metric('verify.changed_in_pipedrive', checked.get('changed_in_pipedrive', 0))} differences are edits "
        f"made in Pipedrive after landing (the team's, not failures){': ' + changed if changed else ''}.</p>"
        + table(["Pipedrive object", "records checked", "records with a mismatch"], entities, "verify")
        + table(["Pipedrive object", "field", "mismatches"], fields, "verify_fields", 2)
    )


def cutover_section(summary: dict) -> str:
    found = summary.get("cutover") or {"conflicts": [], "source_deletions": [], "on_source_delete": "report"}
    conflict_rows = [
        row([cell(escape(c["entity"]), True), cell(escape(c["source_id"]), True),
             cell(f"<code>{escape(c['field'])}</code>", True), cell(escape(c["resolution"]), True)])
        for c in found["conflicts"][:MAX_TABLE_ROWS]
    ]
    deletion_rows = [
        row([cell(escape(d["source_id"]), True), cell(escape(d["how"].replace("_", " ")), True),
             cell(escape(d["in_pipedrive"]), True), cell(escape(d["action"]), True), cell(escape(d["detail"]), True)])
        for d in found["source_deletions"][:MAX_TABLE_ROWS]
    ]
    return (
        "<h3>Changed on both sides (conflicts)</h3>"
        f"<p>{metric('cutover.conflicts', len(found['conflicts']))} fields were changed in PracticeHub and by the "
        "team in Pipedrive since they landed; fields only the team changed were left as the team set them.</p>"
        + table(["Pipedrive object", "PracticeHub ID", "field", "what was done"], conflict_rows, "conflicts", 4)
        + "<h3>Deleted in PracticeHub after landing</h3>"
        f"<p>{metric('cutover.source_deletions', len(found['source_deletions']))} records were deleted in "
        f"PracticeHub after they landed (on_source_delete: <code>{escape(found['on_source_delete'])}</code>).</p>"
        + table(["PracticeHub ID", "how", "in Pipedrive", "done", "detail"], deletion_rows, "source_deletions", 5)
    )


def links_section(summary: dict) -> str:
    links = summary["links"]
    workflows = summary.get("workflows") or {}
    items = []
    for key, label in (
        ("workflows", "Workflow rebuild guide (PracticeHub workflows → Pipedrive automations)"),
        ("field_map", "Field map (logical field → Pipedrive field key)"),
        ("json_summary", "These numbers as JSON"),
    ):
        target = links.get(key)
        items.append(
            f'<li><a href="{escape(target)}" data-link="{key}">{escape(label)}</a></li>'
            if target
            else f'<li class="muted">{escape(label)}: not available</li>'
        )
    counts = ""
    if workflows:
        counts = (
            f"<p>{metric('workflows.workflows', workflows.get('workflows', 0))} workflows, "
            f"{metric('workflows.active', workflows.get('active', 0))} active, to rebuild by hand; the plan "
            f"allows {metric('workflows.automation_cap', workflows.get('automation_cap', 0))} automations.</p>"
        )
    return "<h2>Next steps and references</h2>" + counts + "<ul>" + "".join(items) + "</ul>"


def problems_section(summary: dict) -> str:
    problems = summary["input_problems"]
    if not problems:
        return ""
    items = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
    return (
        f"<h2>Input problems</h2><p>{metric('input_problems.count', len(problems))} problems reading the "
        f'inputs:</p><ul data-table="input_problems">{items}</ul>'
    )


def render(summary: dict) -> str:
    sections = [
        migration_section(summary),
        runs_section(summary),
        latest_run_heading(summary),
        summary_section(summary),
        records_section(summary),
        reconciliation_section(summary),
        throughput_section(summary),
        budget_section(summary),
        practitioners_section(summary),
        dedupe_section(summary),
        phi_section(summary),
        skips_section(summary),
        cutover_section(summary),
        source_check_section(summary),
        verify_section(summary),
        links_section(summary),
        problems_section(summary),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>PracticeHub → Pipedrive migration report</title><style>{CSS}</style></head>"
        f'<body data-reconciled="{"yes" if summary["reconciled"] else "no"}">'
        "<h1>PracticeHub → Pipedrive migration report</h1>"
        + run_line(summary)
        + "".join(sections)
        + f"<script>{CHECK_SCRIPT}</script></body></html>\n"
    )
