"""Horizontal bar charts as inline SVG: no JavaScript, no fonts or files fetched.

Horizontal bars because the labels ("master1 / mesos-master", "zookeeper (kill)") are long
and would not fit under vertical ones. Every text goes through html.escape.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass

# One colour per series (stack, or machine vs offered); emulated bars add a hatch over it.
COLOURS = ("#3b6fb6", "#e08a2c", "#6a9f3a", "#8e5ea2")
_ids = itertools.count()

EMULATED = "(emulated)"  # after the figure of every emulated bar (report.EMULATED)
LABEL_W, BAR_W, VALUE_W = 230, 360, 150
BAR_H, GAP, TOP, AXIS_H = 18, 6, 40, 44


@dataclass
class Bar:
    label: str
    value: float | None
    series: str
    emulated: bool = False
    text: str = ""  # shown after the bar; the formatted value when empty


def _axis(value: float) -> tuple[float, int]:
    """A round axis end (1, 2, 2.5, 5 times a power of ten) at or above value, and a tick
    count that gives round tick labels (2 → 0.5 steps, 2.5 → 0.5, 5 → 1, 10 → 2)."""
    if value <= 0:
        return 1.0, 5
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power, 4 if step == 2 else 5
    return 10 * power, 5


def _fmt(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def bar_chart(title: str, unit: str, bars: list[Bar]) -> str:
    """One chart: title, a bar per entry (value and unit at its end), an x axis with ticks."""
    esc = html.escape
    series = list(dict.fromkeys(b.series for b in bars))
    colour = {s: COLOURS[i % len(COLOURS)] for i, s in enumerate(series)}
    pattern = f"hatch{next(_ids)}"  # ids must be unique across the page
    values = [b.value for b in bars if b.value is not None]
    top, ticks = _axis(max(values, default=0.0))
    height = TOP + len(bars) * (BAR_H + GAP) + AXIS_H
    width = LABEL_W + BAR_W + VALUE_W
    marked = [b.label for b in bars if b.emulated]
    if marked and len(marked) == len(bars):
        title = f"{title} {EMULATED}"
    # what a screen reader or a tooltip gives for the whole chart (role=img hides its texts)
    name = title if not marked or len(marked) == len(bars) else f"{title}; {EMULATED}: {', '.join(marked)}"
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{esc(name)}</title>",
        f'<defs><pattern id="{pattern}" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff" fill-opacity="0.15"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.5"/></pattern></defs>',
        f'<text x="4" y="16" class="ct">{esc(title)}</text>',
    ]
    # Legend: one swatch per series, and what the hatch means when any bar is emulated.
    x = LABEL_W
    for s in series:
        out.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{colour[s]}"/>')
        out.append(f'<text x="{x + 14}" y="33">{esc(s)}</text>')
        x += 24 + 7 * len(s)
    if any(b.emulated for b in bars):
        out.append(f'<rect x="{x}" y="24" width="10" height="10" fill="#777"/>'
                   f'<rect x="{x}" y="24" width="10" height="10" fill="url(#{pattern})"/>')
        out.append(f'<text x="{x + 14}" y="33">emulated (not a real measurement)</text>')
    for i, bar in enumerate(bars):
        y = TOP + i * (BAR_H + GAP)
        mid = y + BAR_H / 2 + 4
        out.append(f'<text x="{LABEL_W - 6}" y="{mid:.1f}" text-anchor="end">{esc(bar.label)}</text>')
        if bar.value is None:
            text = bar.text or "no figure"
            if bar.emulated and EMULATED not in text:
                text += f" {EMULATED}"
            out.append(f'<text x="{LABEL_W + 4}" y="{mid:.1f}" class="na">{esc(text)}</text>')
            continue
        w = max(bar.value / top * BAR_W, 0.5)
        out.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{colour[bar.series]}"/>')
        if bar.emulated:
            out.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="url(#{pattern})"/>')
        text = bar.text or f"{_fmt(bar.value)} {unit}"
        if bar.emulated and EMULATED not in text:
            text += f" {EMULATED}"
        out.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{mid:.1f}">{esc(text)}</text>')
    axis_y = TOP + len(bars) * (BAR_H + GAP)
    out.append(f'<line x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + BAR_W}" y2="{axis_y}" stroke="#333"/>')
    for k in range(ticks + 1):
        tx = LABEL_W + BAR_W * k / ticks
        out.append(f'<line x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" y2="{axis_y + 4}" stroke="#333"/>')
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle">{esc(_fmt(top * k / ticks))}</text>')
    out.append(f'<text x="{LABEL_W + BAR_W / 2}" y="{axis_y + 34}" text-anchor="middle" class="ax">{esc(unit)}</text>')
    out.append("</svg>")
    return "\n".join(out)
