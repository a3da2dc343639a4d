"""Inline SVG line charts: no script, readable by a screen reader through their title."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 320, 96, 6


def points(values: Sequence[float], width: int = WIDTH, height: int = HEIGHT) -> str:
    """The polyline points of ``values`` scaled into the box (the first value at the left)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * PAD) / max(1, len(values) - 1)
    return " ".join(
        f"{PAD + i * step:.1f},{height - PAD - (v - low) / span * (height - 2 * PAD):.1f}"
        for i, v in enumerate(values)
    )


def line_chart(values: Sequence[float], title: str, unit: str = "") -> Markup:
    """An SVG line chart of ``values`` titled for assistive technology; a note when empty."""
    if not values:
        return Markup('<p class="muted">{}: no data yet</p>').format(title)
    label = f"{title}: {len(values)} points, last {values[-1]:g}{unit}"
    label += f", lowest {min(values):g}{unit}, highest {max(values):g}{unit}"
    pts = points(values)
    x, y = pts.rsplit(" ", 1)[-1].split(",")
    return Markup(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" aria-label="{label}">'
        "<title>{label}</title>"
        '<polyline fill="none" stroke="currentColor" stroke-width="2" points="{pts}"/>'
        '<circle cx="{x}" cy="{y}" r="3" fill="currentColor"/></svg>'
    ).format(w=WIDTH, h=HEIGHT, label=escape(label), pts=pts, x=x, y=y)
