"""Charts as inline SVG: no JavaScript, nothing from a CDN.

Functions here turn figures into coordinates (in the SVG's own units) and labels, and
draw them (`draw`) as one string of SVG: a page shows a dozen charts of a few dozen marks
each, and a template tag per mark cost more than the figures did. Each chart keeps its
title and description inside the SVG (role="img"), and the same figures as a table
(`columns`, `figures`, already written out) that the page puts beside it for screen
readers, for copying and for browsers that draw no SVG.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (an axis' top)."""
    if value <= 0:
        return 1
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        top = step * magnitude
        if top >= Decimal(str(value)):
            return float(top)
    return float(10 * magnitude)


@dataclass
class Segment:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    label: str = ""  # a horizontal bar's name, drawn to its left
    text: str = ""  # a horizontal bar's figure, drawn to its right


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class XLabel:
    x: float
    label: str


@dataclass
class Chart:
    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    segments: list[Segment] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    x_labels: list[XLabel] = field(default_factory=list)
    points: str = ""  # a line chart's polyline
    dots: list[Segment] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css, name)
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM
    plot_top: int = TOP
    empty: bool = False
    kind: str = "bars"  # bars, line or hbars: how `draw` lays the marks out
    dom_id: str = ""  # the SVG's title and description ids start with it
    testid: str = ""
    empty_note: str = ""  # said in the caption when there is nothing to draw
    # The table of the figures: column headings (the first heads the rows' own names),
    # then each row's name and its cells, written out.
    columns: list[str] = field(default_factory=list)
    figures: list[tuple[str, list[str]]] = field(default_factory=list)
    table: list[dict] = field(default_factory=list)  # the same figures, as numbers

    @property
    def svg(self) -> SafeString:
        return draw(self)

    @property
    def figures_table(self) -> SafeString:
        return draw_table(self)


def stacked_bars(
    *,
    title: str,
    description: str,
    categories: list[str],
    series: list[tuple[str, str, list[int]]],
    axis_label,
    value_label,
) -> Chart:
    """Vertical bars, one per category, each stacking the series' values (name, css,
    values). `axis_label(v)` writes a tick, `value_label(v)` a bar's tooltip value."""
    chart = Chart(
        title=title,
        description=description,
        legend=[(css, n) for n, css, _ in series],
        empty_note="no charges yet",
    )
    totals = [sum(values[i] for _, _, values in series) for i in range(len(categories))]
    top = nice_ceiling(max(totals, default=0))
    chart.empty = not any(totals)
    plot_h = chart.plot_bottom - chart.plot_top
    slot = (chart.plot_right - chart.plot_left) / max(len(categories), 1)
    bar_w = slot * 0.64
    for i, category in enumerate(categories):
        x = chart.plot_left + slot * i + (slot - bar_w) / 2
        base = chart.plot_bottom
        for name, css, values in series:
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            chart.segments.append(
                Segment(
                    round(x, 1),
                    round(base, 1),
                    round(bar_w, 1),
                    round(h, 1),
                    css,
                    f"{category}, {name}: {value_label(value)}",
                )
            )
        chart.x_labels.append(XLabel(round(x + bar_w / 2, 1), category))
    for step in range(5):
        value = top * step / 4
        chart.ticks.append(Tick(round(chart.plot_bottom - plot_h * step / 4, 1), axis_label(value)))
    return chart


def line_chart(
    *, title: str, description: str, categories: list[str], values: list[float | None]
) -> Chart:
    """A percentage (0 to 100) per category, joined by a line; None leaves a gap."""
    chart = Chart(title=title, description=description, kind="line")
    chart.empty_note = "no completed tasks yet"
    chart.empty = all(v is None for v in values)
    plot_h = chart.plot_bottom - chart.plot_top
    slot = (chart.plot_right - chart.plot_left) / max(len(categories), 1)
    points = []
    for i, (category, value) in enumerate(zip(categories, values, strict=True)):
        x = chart.plot_left + slot * i + slot / 2
        chart.x_labels.append(XLabel(round(x, 1), category))
        if value is None:
            continue
        y = chart.plot_bottom - plot_h * float(value) / 100
        points.append(f"{x:.1f},{y:.1f}")
        chart.dots.append(Segment(round(x, 1), round(y, 1), 0, 0, "dot", f"{category}: {value}%"))
    chart.points = " ".join(points)
    for step in range(5):
        chart.ticks.append(Tick(round(chart.plot_bottom - plot_h * step / 4, 1), f"{step * 25}%"))
    return chart


def horizontal_bars(
    *, title: str, description: str, rows: list[tuple[str, float, str]], bar_height: int = 22
) -> Chart:
    """One bar per row (label, percent 0..100+, text shown at the bar's end); bars past
    100% are drawn to the edge and say so in their text."""
    left, right = 170, 70
    height = max(len(rows), 1) * bar_height + 30
    chart = Chart(
        title=title,
        description=description,
        height=height,
        plot_left=left,
        kind="hbars",
        empty_note="no active assistants",
    )
    chart.plot_right = WIDTH - right
    chart.plot_bottom = height - 20
    chart.empty = not rows
    span = chart.plot_right - left
    for i, (label, value, text) in enumerate(rows):
        y = 6 + i * bar_height
        w = span * min(float(value), 100) / 100
        css = "over" if value > 100 else "used"
        chart.segments.append(
            Segment(left, y, round(w, 1), bar_height - 8, css, f"{label}: {text}", label, text)
        )
    for step in range(5):
        chart.ticks.append(Tick(round(left + span * step / 4, 1), f"{step * 25}%"))
    return chart


# -- drawing ------------------------------------------------------------------------------


def draw(chart: Chart) -> SafeString:
    """The chart's <svg> element: grid and axis labels, then its marks, every piece of
    text escaped. Its accessible name is the title, its description the description."""
    ident = escape(chart.dom_id)
    parts = [
        f'<svg viewBox="0 0 {chart.width} {chart.height}" role="img"'
        f' aria-labelledby="{ident}-title {ident}-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{ident}-title">{escape(chart.title)}</title>'
        f'<desc id="{ident}-desc">{escape(chart.description)}</desc>'
    ]
    if chart.kind == "hbars":
        _draw_hbars(chart, parts)
    else:
        _draw_grid(chart, parts)
        if chart.kind == "line":
            if chart.points:
                parts.append(f'<polyline class="trend" points="{chart.points}"/>')
            for dot in chart.dots:
                parts.append(
                    f'<circle class="dot" cx="{dot.x}" cy="{dot.y}" r="4">'
                    f"<title>{escape(dot.title)}</title></circle>"
                )
        else:
            for bar in chart.segments:
                parts.append(_rect(bar))
        baseline = chart.height - 8
        for label in chart.x_labels:
            parts.append(
                f'<text class="axis" x="{label.x}" y="{baseline}" text-anchor="middle">'
                f"{escape(label.label)}</text>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _rect(bar: Segment) -> str:
    return (
        f'<rect class="{escape(bar.css)}" x="{bar.x}" y="{bar.y}" width="{bar.width}"'
        f' height="{bar.height}"><title>{escape(bar.title)}</title></rect>'
    )


def _draw_grid(chart: Chart, parts: list[str]) -> None:
    axis_x = chart.plot_left - 6
    for tick in chart.ticks:
        parts.append(
            f'<line class="grid" x1="{chart.plot_left}" x2="{chart.plot_right}"'
            f' y1="{tick.y}" y2="{tick.y}"/>'
            f'<text class="axis" x="{axis_x}" y="{tick.y}" text-anchor="end"'
            f' dominant-baseline="middle">{escape(tick.label)}</text>'
        )


def _draw_hbars(chart: Chart, parts: list[str]) -> None:
    # A horizontal chart's ticks run across: `tick.y` is their x.
    baseline = chart.height - 4
    for tick in chart.ticks:
        parts.append(
            f'<line class="grid" x1="{tick.y}" x2="{tick.y}" y1="0" y2="{chart.plot_bottom}"/>'
            f'<text class="axis" x="{tick.y}" y="{baseline}" text-anchor="middle">'
            f"{escape(tick.label)}</text>"
        )
    name_x, figure_x = chart.plot_left - 6, chart.plot_right + 6
    for bar in chart.segments:
        middle = bar.y + 7
        parts.append(
            f'<text class="axis" x="{name_x}" y="{middle}" text-anchor="end"'
            f' dominant-baseline="middle">{escape(Truncator(bar.label).chars(24))}</text>'
            + _rect(bar)
            + f'<text class="axis" x="{figure_x}" y="{middle}" dominant-baseline="middle">'
            f"{escape(bar.text)}</text>"
        )


def draw_table(chart: Chart) -> SafeString:
    """The chart's figures as a <table>: a row per category, headed by its name."""
    head, *rest = chart.columns
    parts = [
        '<table class="table compact"><thead><tr>',
        f'<th scope="col">{escape(head)}</th>',
        *(f'<th scope="col" class="num">{escape(heading)}</th>' for heading in rest),
        "</tr></thead><tbody>",
    ]
    for name, cells in chart.figures:
        parts.append(f'<tr><th scope="row">{escape(name)}</th>')
        parts.extend(f'<td class="num">{escape(cell)}</td>' for cell in cells)
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return mark_safe("".join(parts))
