"""The geometry of the page's inline SVG charts: no script library, no network, readable when printed.

Each function returns a `Chart`: where every bar, line and label goes, numbers already formatted.
`templates/charts.html.j2` turns it into `<svg class="chart" data-chart="...">` (labels escaped there, as
all text from the inputs); the page's on-load check measures every such chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Colour-blind-safe (Okabe-Ito) colours, one per outcome.
COLOURS = {
    "created": "#009E73", "updated": "#0072B2", "unchanged": "#56B4E9", "out": "#009E73",
    "merged": "#CC79A7", "skipped": "#E69F00", "failed": "#D55E00", "kept_aside": "#999999", "waiting": "#F0E442",
    "calls": "#0072B2", "status_429": "#D55E00", "run": "#0072B2", "others": "#E69F00",
    "remaining": "#DDDDDD",
}
OTHER_COLOUR = "#777"
LABEL_WIDTH = 150
CHART_WIDTH = 720
CHAR_WIDTH = 7  # average width of a 12px label character, to fit the label column
MAX_LABEL = 30


@dataclass(frozen=True)
class LegendEntry:
    x: int
    y: int
    colour: str
    label: str


@dataclass(frozen=True)
class Text:
    x: str
    y: str
    text: str
    anchor: str | None = None  # text-anchor
    tooltip: str | None = None  # the full label, when `text` is shortened
    kind: str = "text"


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    colour: str
    tooltip: str
    opacity: str | None = None
    kind: str = "bar"


@dataclass(frozen=True)
class Axis:
    x1: int
    y1: int
    x2: int
    y2: int
    kind: str = "axis"


@dataclass(frozen=True)
class Line:
    points: str
    colour: str
    kind: str = "line"


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    height: int
    legend: list[LegendEntry]
    marks: list[Text | Bar | Axis | Line] = field(default_factory=list)  # in drawing order
    width: int = CHART_WIDTH


def number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def legend(series: list[tuple[str, str]], y: int, x: int = LABEL_WIDTH) -> list[LegendEntry]:
    entries = []
    for key, label in series:
        entries.append(LegendEntry(x, y, COLOURS.get(key, OTHER_COLOUR), label))
        x += 24 + 7 * len(label)
    return entries


def stacked_bars(name: str, title: str, rows: list[tuple[str, dict[str, int]]],
                 series: list[tuple[str, str]]) -> Chart:
    """One horizontal bar per row, split into the series' segments, with the row's total at the end."""
    bar, gap, top = 22, 10, 30
    height = top + len(rows) * (bar + gap) + 10
    label_width = max([CHAR_WIDTH * len(short(label)) + 16 for label, _ in rows] + [90])
    longest = max([sum(values.get(key, 0) for key, _ in series) for _, values in rows] + [1])
    scale = (CHART_WIDTH - label_width - 70) / longest
    marks: list = []
    for index, (label, values) in enumerate(rows):
        y = top + index * (bar + gap)
        marks.append(Text(str(label_width - 8), str(y + 15), short(label), anchor="end", tooltip=label))
        x = float(label_width)
        for key, series_label in series:
            amount = values.get(key, 0)
            if amount <= 0:
                continue
            width = max(amount * scale, 1.0)
            marks.append(Bar(f"{x:.1f}", str(y), f"{width:.1f}", str(bar), COLOURS.get(key, OTHER_COLOUR),
                             f"{label}: {series_label} {number(amount)}"))
            x += width
        total = sum(values.get(key, 0) for key, _ in series)
        marks.append(Text(f"{x + 6:.1f}", str(y + 15), number(total)))
    if not rows:
        marks.append(Text(str(label_width), str(top + 15), "no records"))
        height = top + bar + gap + 10
    return Chart(name, title, height, legend(series, 6, label_width), marks)


def timeline(name: str, title: str, points: list[dict], seconds_per_point: int) -> Chart:
    """Calls per second as a line, 429 responses per interval as red bars underneath."""
    height, top, plot_height = 250, 30, 170
    plot_width = CHART_WIDTH - LABEL_WIDTH + 90
    left = 60
    key = legend([("calls", "calls per second"), ("status_429", "429 responses")], 6)
    if not points:
        return Chart(name, title, 80, key, [Text(str(left), str(top + 20), "no requests recorded")])
    peak_rate = max(point["calls"] / seconds_per_point for point in points) or 1
    peak_429 = max(point["status_429"] for point in points) or 1
    step = plot_width / max(len(points) - 1, 1)
    base = top + plot_height
    marks: list = [
        Axis(left, base, left + plot_width, base),
        Axis(left, top, left, base),
        Text(str(left - 6), str(top + 8), number(peak_rate), anchor="end"),
        Text(str(left - 6), str(base), "0", anchor="end"),
    ]
    bar_width = max(step * 0.6, 1.0)
    for index, point in enumerate(points):
        if point["status_429"]:
            bar_height = max(point["status_429"] / peak_429 * plot_height * 0.4, 1.0)
            x = left + index * step - bar_width / 2
            marks.append(Bar(f"{x:.1f}", f"{base - bar_height:.1f}", f"{bar_width:.1f}", f"{bar_height:.1f}",
                             COLOURS["status_429"], f"{point['status_429']} × 429 at +{point['offset']} s",
                             opacity="0.8"))
    coordinates = " ".join(
        f"{left + index * step:.1f},{base - point['calls'] / seconds_per_point / peak_rate * plot_height:.1f}"
        for index, point in enumerate(points))
    if len(points) == 1:  # one point: a flat line across, so there is something to see
        coordinates += f" {left + plot_width:.1f},{coordinates.split(',')[1]}"
    marks.append(Line(coordinates, COLOURS["calls"]))
    end = points[-1]["offset"] + seconds_per_point
    marks.append(Text(str(left), str(base + 18), "0 s"))
    marks.append(Text(str(left + plot_width), str(base + 18), f"{number(end)} s", anchor="end"))
    return Chart(name, title, height, key, marks)


def budget_bar(name: str, title: str, used_by_run: int, used_by_others: int | None, remaining: int) -> Chart:
    """The company's daily token budget as one bar: this run, other use (when the limit is known), what is left."""
    segments = [("run", "this run", used_by_run), ("others", "other use today", used_by_others),
                ("remaining", "remaining", remaining)]
    segments = [segment for segment in segments if segment[2] is not None]
    total = sum(value for _, _, value in segments) or 1
    width = CHART_WIDTH - LABEL_WIDTH - 20
    marks: list = [Text(str(LABEL_WIDTH - 8), "45", "tokens today", anchor="end")]
    x = float(LABEL_WIDTH)
    for key, label, value in segments:
        if value <= 0:
            continue
        segment = max(value / total * width, 1.0)
        marks.append(Bar(f"{x:.1f}", "30", f"{segment:.1f}", "24", COLOURS[key], f"{label}: {number(value)} tokens"))
        x += segment
    return Chart(name, title, 70, legend([(key, label) for key, label, _ in segments], 6), marks)
