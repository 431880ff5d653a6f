"""Inline SVG charts drawn in Python: no script library, no network, readable when printed.

Every chart is an `<svg class="chart" data-chart="...">`; the page's on-load check measures them.
Labels are escaped here because they come from the inputs (stream names, reasons).
"""

from __future__ import annotations

from html import escape

# Colour-blind-safe (Okabe-Ito) colours, one per outcome.
COLOURS = {
    "created": "#009E73", "updated": "#0072B2", "unchanged": "#56B4E9", "out": "#009E73",
    "merged": "#CC79A7", "skipped": "#E69F00", "failed": "#D55E00", "kept_aside": "#999999", "waiting": "#F0E442",
    "calls": "#0072B2", "status_429": "#D55E00", "run": "#0072B2", "others": "#E69F00",
    "remaining": "#DDDDDD",
}
LABEL_WIDTH = 150
CHART_WIDTH = 720
CHAR_WIDTH = 7  # average width of a 12px label character, to fit the label column
MAX_LABEL = 30


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def legend(series: list[tuple[str, str]], y: int, x: int = LABEL_WIDTH) -> str:
    parts = []
    for key, label in series:
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{COLOURS.get(key, "#777")}"/>'
                     f'<text x="{x + 16}" y="{y + 10}" class="legend">{escape(label)}</text>')
        x += 24 + 7 * len(label)
    return "".join(parts)


def stacked_bars(name: str, title: str, rows: list[tuple[str, dict[str, int]]],
                 series: list[tuple[str, str]]) -> str:
    """One horizontal bar per row, split into the series' segments, with the row's total at the end."""
    bar, gap, top = 22, 10, 30
    height = top + len(rows) * (bar + gap) + 10
    label_width = max([CHAR_WIDTH * len(short(label)) + 16 for label, _ in rows] + [90])
    longest = max([sum(values.get(key, 0) for key, _ in series) for _, values in rows] + [1])
    scale = (CHART_WIDTH - label_width - 70) / longest
    body = [legend(series, 6, label_width)]
    for index, (label, values) in enumerate(rows):
        y = top + index * (bar + gap)
        body.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{escape(short(label))}'
                    f"<title>{escape(label)}</title></text>")
        x = float(label_width)
        for key, series_label in series:
            count = values.get(key, 0)
            if count <= 0:
                continue
            width = max(count * scale, 1.0)
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{bar}" '
                        f'fill="{COLOURS.get(key, "#777")}"><title>{escape(label)}: {escape(series_label)} '
                        f'{_number(count)}</title></rect>')
            x += width
        total = sum(values.get(key, 0) for key, _ in series)
        body.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{_number(total)}</text>')
    if not rows:
        body.append(f'<text x="{label_width}" y="{top + 15}">no records</text>')
        height = top + bar + gap + 10
    return _svg(name, title, height, body)


def timeline(name: str, title: str, points: list[dict], seconds_per_point: int) -> str:
    """Calls per second as a line, 429 responses per interval as red bars underneath."""
    height, top, plot_height = 250, 30, 170
    plot_width = CHART_WIDTH - LABEL_WIDTH + 90
    left = 60
    body = [legend([("calls", "calls per second"), ("status_429", "429 responses")], 6)]
    if not points:
        body.append(f'<text x="{left}" y="{top + 20}">no requests recorded</text>')
        return _svg(name, title, 80, body)
    peak_rate = max(point["calls"] / seconds_per_point for point in points) or 1
    peak_429 = max(point["status_429"] for point in points) or 1
    step = plot_width / max(len(points) - 1, 1)
    base = top + plot_height
    body.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_width}" y2="{base}" class="axis"/>'
                f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" class="axis"/>'
                f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{_number(peak_rate)}</text>'
                f'<text x="{left - 6}" y="{base}" text-anchor="end">0</text>')
    bar_width = max(step * 0.6, 1.0)
    for index, point in enumerate(points):
        if point["status_429"]:
            bar_height = max(point["status_429"] / peak_429 * plot_height * 0.4, 1.0)
            x = left + index * step - bar_width / 2
            body.append(f'<rect x="{x:.1f}" y="{base - bar_height:.1f}" width="{bar_width:.1f}" '
                        f'height="{bar_height:.1f}" fill="{COLOURS["status_429"]}" opacity="0.8">'
                        f'<title>{point["status_429"]} × 429 at +{point["offset"]} s</title></rect>')
    coordinates = " ".join(
        f"{left + index * step:.1f},{base - point['calls'] / seconds_per_point / peak_rate * plot_height:.1f}"
        for index, point in enumerate(points))
    if len(points) == 1:
        coordinates += f" {left + plot_width:.1f},{coordinates.split(',')[1]}"
    body.append(f'<polyline points="{coordinates}" fill="none" stroke="{COLOURS["calls"]}" stroke-width="2"/>')
    end = points[-1]["offset"] + seconds_per_point
    body.append(f'<text x="{left}" y="{base + 18}">0 s</text>'
                f'<text x="{left + plot_width}" y="{base + 18}" text-anchor="end">{_number(end)} s</text>')
    return _svg(name, title, height, body)


def budget_bar(name: str, title: str, used_by_run: int, used_by_others: int | None, remaining: int) -> str:
    """The company's daily token budget as one bar: this run, other use (when the limit is known), what is left."""
    segments = [("run", "this run", used_by_run), ("others", "other use today", used_by_others),
                ("remaining", "remaining", remaining)]
    segments = [segment for segment in segments if segment[2] is not None]
    total = sum(value for _, _, value in segments) or 1
    width = CHART_WIDTH - LABEL_WIDTH - 20
    body = [legend([(key, label) for key, label, _ in segments], 6)]
    x = float(LABEL_WIDTH)
    body.append(f'<text x="{LABEL_WIDTH - 8}" y="45" text-anchor="end">tokens today</text>')
    for key, label, value in segments:
        if value <= 0:
            continue
        segment = max(value / total * width, 1.0)
        body.append(f'<rect x="{x:.1f}" y="30" width="{segment:.1f}" height="24" fill="{COLOURS[key]}">'
                    f'<title>{escape(label)}: {_number(value)} tokens</title></rect>')
        x += segment
    return _svg(name, title, 70, body)


def _svg(name: str, title: str, height: int, body: list[str]) -> str:
    return (f'<svg class="chart" data-chart="{escape(name)}" role="img" viewBox="0 0 {CHART_WIDTH} {height}" '
            f'width="{CHART_WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{escape(title)}</title>{"".join(body)}</svg>')
