"""Inline SVG charts for the HTML report, drawn here rather than with a plotting library.

Why hand-rolled: the report needs three plain charts (bars per week, horizontal bars for the
top N + rest, stacked bars per run). Written as SVG elements they stay text (searchable,
readable by screen readers, crisp at any zoom, no fonts turned into paths), carry their exact
value on every mark (``data-value`` and a ``<title>`` tooltip, no JavaScript), open with no
network, and add no dependency to an admin tool that otherwise needs only boto3. The libraries
that could do it either pull a large scientific stack (matplotlib: numpy, pillow, fonttools,
...), embed megabytes of JavaScript per report (plotly offline), or load scripts from the
network by default (pygal's tooltips).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

PALETTE = {"pass": "#2e7d32", "fail": "#c62828", "unknown": "#9e9e9e"}
BAR = "#1565c0"
REST = "#90a4ae"


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 x 10^n steps)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def money(value: float | None, currency: str = "") -> str:
    if value is None:
        return "unknown"
    text = f"{value:,.2f}"
    return f"{text} {currency}".strip()


def _svg(chart_id: str, title: str, width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg class="chart" id="{_attr(chart_id)}" role="img" aria-label="{_attr(title)}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def columns(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 760,
    height: int = 280,
) -> str:
    """Vertical bars, one per item (e.g. savings per week)."""
    left, right, top, bottom = 64, 16, 24, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, v in items), default=0.0)
    ticks = nice_ticks(peak)
    scale = plot_h / ticks[-1] if ticks[-1] else 0.0
    body = []
    for t in ticks:
        y = top + plot_h - t * scale
        body.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:,.4g}</text>'
        )
    n = max(len(items), 1)
    slot = plot_w / n
    bar_w = max(2.0, min(48.0, slot * 0.7))
    for i, (label, value) in enumerate(items):
        h = max(0.0, value * scale)
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        tip = f"{label}: {value:,.2f} {unit}".strip()
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{BAR}" data-label="{_attr(label)}" data-value="{value}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        lx, ly = x + bar_w / 2, top + plot_h + 14
        body.append(
            f'<text class="label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" '
            f'transform="rotate(-35 {lx:.1f} {ly:.1f})">{escape(label)}</text>'
        )
    body.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/>'
    )
    if unit:
        body.append(f'<text class="unit" x="4" y="12">{escape(unit)}</text>')
    return _svg(chart_id, title, width, height, body)


def top_n(
    rows: Sequence[tuple[str, float]], n: int, rest_label: str = "rest"
) -> list[tuple[str, float]]:
    """The ``n`` largest values, then one ``rest`` bar summing the others (if any)."""
    ordered = sorted(rows, key=lambda r: (-r[1], r[0]))
    head, tail = ordered[:n], ordered[n:]
    if tail:
        head.append((f"{rest_label} ({len(tail)})", round(sum(v for _, v in tail), 4)))
    return head


def bars(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 760,
) -> str:
    """Horizontal bars, largest first (e.g. cost per user, top N + rest)."""
    row_h, top = 26, 8
    left, right = (220, 110) if width >= 600 else (130, 70)
    height = top * 2 + row_h * max(len(items), 1)
    peak = max((v for _, v in items), default=0.0) or 1.0
    plot_w = width - left - right
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        w = max(0.0, value / peak * plot_w)
        fill = REST if label.startswith("rest (") else BAR
        room = 34 if width >= 600 else 19
        text = label if len(label) <= room else label[: room - 1] + "…"
        body.append(
            f'<text class="label" x="{left - 8}" y="{y + 17}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(text)}</text>"
            f'<rect class="bar" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{fill}" data-label="{_attr(label)}" data-value="{value}">'
            f"<title>{escape(label)}: {value:,.4g} {escape(unit)}</title></rect>"
            f'<text class="value" x="{left + w + 6:.1f}" y="{y + 17}">{value:,.2f}</text>'
        )
    return _svg(chart_id, title, width, height, body)


def stacked(
    chart_id: str,
    title: str,
    runs: Sequence[dict[str, Any]],
    *,
    width: int = 760,
    height: int = 260,
) -> str:
    """One 100 % bar per run split into pass / fail / unknown (compliance trend)."""
    left, top, bottom = 48, 12, 58
    right = 120 if width >= 600 else 90
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(runs), 1)
    slot = plot_w / n
    bar_w = max(4.0, min(56.0, slot * 0.7))
    body = []
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h - pct / 100 * plot_h
        body.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{pct}%</text>'
        )
    for i, run in enumerate(runs):
        total = sum(run.get(k, 0) for k in ("pass", "fail", "unknown"))
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        label = str(run.get("label") or run.get("run_at", ""))
        for status in ("pass", "fail", "unknown"):
            count = run.get(status, 0)
            h = plot_h * count / total if total else 0.0
            y -= h
            body.append(
                f'<rect class="segment" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[status]}" data-run="{_attr(label)}" '
                f'data-status="{status}" data-value="{count}">'
                f"<title>{escape(label)}: {count} {status}</title></rect>"
            )
        lx, ly = x + bar_w / 2, top + plot_h + 14
        body.append(
            f'<text class="label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" '
            f'transform="rotate(-35 {lx:.1f} {ly:.1f})">{escape(label)}</text>'
        )
    for j, status in enumerate(("pass", "fail", "unknown")):
        y = top + 10 + j * 20
        body.append(
            f'<rect x="{width - right + 16}" y="{y - 9}" width="12" height="12" '
            f'fill="{PALETTE[status]}"/><text class="legend" x="{width - right + 34}" '
            f'y="{y + 2}">{status}</text>'
        )
    return _svg(chart_id, title, width, height, body)
