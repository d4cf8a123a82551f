"""Chart geometry for inline SVG drawn by the templates: no JavaScript, nothing from a CDN.

Functions here turn figures into coordinates (in the SVG's own units) and labels; the
templates draw rectangles, lines and text from them, each chart with a title, a
description and the same figures as a table for screen readers and for copying.
"""

from dataclasses import dataclass, field
from decimal import Decimal

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
    chart = Chart(title=title, description=description, legend=[(css, n) for n, css, _ in series])
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
    chart = Chart(title=title, description=description)
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
    chart = Chart(title=title, description=description, height=height, plot_left=left)
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
