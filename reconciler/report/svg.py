"""Inline SVG drawings of the HTML report: a pool's address map (its blocks drawn to scale on a
horizontal bar) and line charts of the recorded history. Pure strings; no scripts, no fonts or
images from anywhere."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Sequence

from reconciler.net.cidr import Cidr, format_address
from reconciler.report.model import PoolReport
from reconciler.report.ranges import human_count, human_pct, merge, subtract

COLOURS = {"sub_pool": "#4e79a7", "vpc": "#59a14f", "custom": "#f28e2b", "free": "#eceff3"}
KIND_TEXT = {"sub_pool": "Sub-pool", "vpc": "VPC", "custom": "Custom allocation", "free": "Free"}
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]
CHAR = 6.3  # average width of an 11px label character, in SVG units
WIDTH = 1000


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _text_width(text: str) -> float:
    return len(text) * CHAR + 8


# ---- address map ------------------------------------------------------------------------------
def address_map(pool: PoolReport) -> str:
    """The pool's provisioned CIDRs as a bar, every block allocated from it drawn to scale, free
    space hatched; a label inside each block that has room, else a callout above the bar."""
    version = 6 if pool.ip_version == "IPv6" else 4
    segments = merge((c.start, c.end) for c in map(Cidr.parse, pool.cidrs))
    if not segments:
        return '<p class="muted">No provisioned CIDRs.</p>'
    gap = 10
    room = WIDTH - gap * (len(segments) - 1)
    total = sum(e - s + 1 for s, e in segments)
    placed, x = [], 0.0
    for s, e in segments:
        w = room * ((e - s + 1) / total)
        placed.append((s, e, x, w))
        x += w + gap

    def span(start: int, end: int) -> tuple[float, float]:
        for s, e, sx, sw in placed:
            if s <= start <= e:
                x0 = sx + sw * ((start - s) / (e - s + 1))
                x1 = sx + sw * ((min(end, e) - s + 1) / (e - s + 1))
                return x0, max(x1 - x0, 1.5)
        return 0.0, 0.0

    items = []  # (x, w, kind, label, tooltip)
    for b in pool.blocks:
        c = Cidr.parse(b.cidr)
        bx, bw = span(c.start, c.end)
        items.append((bx, bw, b.kind, b.name, b.cidr, f"{KIND_TEXT[b.kind]} {b.name} {b.cidr} "
                      f"({human_count(c.size)} addresses)"))
    held = [(c.start, c.end) for c in (Cidr.parse(b.cidr) for b in pool.blocks)]
    for s, e in subtract(segments, held):
        fx, fw = span(s, e)
        tip = f"Free {format_address(version, s)} - {format_address(version, e)} ({human_count(e - s + 1)} addresses)"
        items.append((fx, fw, "free", "free", human_count(e - s + 1), tip))
    inner, callouts = [], []
    for bx, bw, kind, name, detail, tip in items:
        label = f"{name} {detail}"
        fits = label if _text_width(label) <= bw else name if _text_width(name) <= bw else None
        if fits:
            inner.append((bx, bw, kind, fits))
        elif kind != "free":
            callouts.append((bx + bw / 2, label, kind))
    rows: list[float] = []
    placed_callouts = []
    for cx, label, kind in sorted(callouts):
        w = _text_width(label)
        lx = min(max(cx - w / 2, 0), WIDTH - w)
        row = next((i for i, end in enumerate(rows) if lx > end + 6), None)
        if row is None:
            rows.append(0.0)
            row = len(rows) - 1
        rows[row] = lx + w
        placed_callouts.append((cx, lx, row, label, kind))
    top = 15 * len(rows) + (6 if rows else 0)
    bar_h, height = 28, top + 28 + 20
    out = [f'<svg class="map" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           f'aria-label="Address map of pool {_e(pool.name)}" xmlns="http://www.w3.org/2000/svg">']
    for s, e, sx, sw in placed:
        out.append(f'<rect x="{sx:.2f}" y="{top}" width="{sw:.2f}" height="{bar_h}" fill="url(#hatch)" '
                   f'stroke="#c9ced6"/>')
        out.append(f'<text class="axis" x="{sx:.2f}" y="{top + bar_h + 14}">{_e(format_address(version, s))}</text>')
        out.append(f'<text class="axis" x="{sx + sw:.2f}" y="{top + bar_h + 14}" text-anchor="end">'
                   f'{_e(format_address(version, e))}</text>')
    for bx, bw, kind, name, detail, tip in items:
        if kind != "free":
            out.append(f'<rect x="{bx:.2f}" y="{top}" width="{bw:.2f}" height="{bar_h}" fill="{COLOURS[kind]}" '
                       f'stroke="#fff" stroke-width="0.6"><title>{_e(tip)}</title></rect>')
        else:
            out.append(f'<rect x="{bx:.2f}" y="{top}" width="{bw:.2f}" height="{bar_h}" fill="transparent">'
                       f'<title>{_e(tip)}</title></rect>')
    for bx, bw, kind, text in inner:
        cls = "in-free" if kind == "free" else "in"
        out.append(f'<text class="{cls}" x="{bx + bw / 2:.2f}" y="{top + 18}" text-anchor="middle">{_e(text)}</text>')
    for cx, lx, row, label, kind in placed_callouts:
        y = 11 + 15 * row
        out.append(f'<line x1="{cx:.2f}" y1="{y + 3}" x2="{cx:.2f}" y2="{top}" stroke="{COLOURS[kind]}" '
                   f'stroke-width="1"/>')
        w = _text_width(label)
        anchor, tx = ("end", WIDTH - 1) if lx + w >= WIDTH - 1 else ("start", 1) if lx <= 0 else ("middle", lx + w / 2)
        out.append(f'<text class="callout" x="{tx:.2f}" y="{y}" text-anchor="{anchor}" fill="{COLOURS[kind]}">'
                   f'{_e(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def hatch_defs() -> str:
    """The shared free-space pattern (one hidden SVG defines it for the page)."""
    return ('<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
            '<pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            f'<rect width="8" height="8" fill="{COLOURS["free"]}"/>'
            '<line x1="0" y1="0" x2="0" y2="8" stroke="#dde1e7" stroke-width="3"/></pattern></defs></svg>')


# ---- history charts ---------------------------------------------------------------------------
def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def line_chart(title: str, series: Sequence[tuple[str, Sequence[tuple[str, float]]]], y_max: float,
               unit: str = "", height: int = 240, guides: Sequence[tuple[float, str]] = (),
               marks: Sequence[tuple[str, float, str]] = (), span: tuple[str, str] | None = None) -> str:
    """A line chart: ``series`` of (name, [(ISO timestamp, value)]); x is time, y runs 0..y_max.
    ``guides``: dashed horizontal lines (a threshold, its label); ``marks``: (timestamp, value, text)
    points drawn as red diamonds (where a series crossed its threshold); ``span``: the time axis's
    first and last timestamps (the charts of one panel share it), else the series' own."""
    longest = max((len(name) + 9 for name, _ in series), default=0)  # the name and its latest value
    left, right, top, bottom = 52, int(min(380, max(215, longest * CHAR + 48))), 14, 34
    height = max(height, top + 16 * len(series) + 8)
    pw, ph = WIDTH - left - right, height - top - bottom
    # (the type ignores below: every t in times parses; _time is None only for those filtered out)
    times = sorted({t for _, pts in series for t, _ in pts if _time(t)}, key=_time)  # type: ignore[arg-type]
    if not times:
        return '<p class="muted">No history recorded yet.</p>'
    t0, t1 = _time(times[0]).timestamp(), _time(times[-1]).timestamp()  # type: ignore[union-attr]
    if span is not None and _time(span[0]) and _time(span[1]):
        t0, t1 = min(t0, _time(span[0]).timestamp()), max(t1, _time(span[1]).timestamp())  # type: ignore[union-attr]

    def px(t: str) -> float:
        return left + (pw / 2 if t1 == t0 else pw * (_time(t).timestamp() - t0) / (t1 - t0))  # type: ignore[union-attr]

    def py(v: float) -> float:
        return top + ph - ph * (min(max(v, 0), y_max) / y_max if y_max else 0)

    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{_e(title)}" '
           'xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):
        v = y_max * i / 4
        y = py(v)
        label = f"{v:g}{unit}" if unit else (f"{v:g}" if v == int(v) else "")
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        out.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(label)}</text>')
    # ticks evenly spaced in time (sample times can bunch together); one tick for a single time
    spots = [t0] if t1 == t0 else [t0 + (t1 - t0) * i / 5 for i in range(6)]
    fmt = "%H:%M:%S" if t1 - t0 < 3600 else "%m-%d %H:%M" if t1 - t0 < 86400 * 300 else "%Y-%m-%d"
    zone = _time(times[0]).tzinfo  # type: ignore[union-attr]
    for k, spot in enumerate(spots):
        x = left + (pw / 2 if t1 == t0 else pw * (spot - t0) / (t1 - t0))
        anchor = "start" if k == 0 and len(spots) > 1 else "end" if k == len(spots) - 1 and len(spots) > 1 else "middle"
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" stroke="#9aa3ad"/>')
        out.append(f'<text class="axis" x="{x:.1f}" y="{top + ph + 17}" text-anchor="{anchor}">'
                   f'{_e(datetime.fromtimestamp(spot, zone).strftime(fmt))}</text>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#9aa3ad"/>')
    for value, label in guides:
        y = py(value)
        out.append(f'<line class="threshold" x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#c53030" '
                   f'stroke-width="1.2" stroke-dasharray="6 4"><title>{_e(label)}</title></line>')
        out.append(f'<text class="axis" x="{left + pw - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#c53030">'
                   f'{_e(label)}</text>')
    for i, (name, pts) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        dash = "" if i < len(PALETTE) else ' stroke-dasharray="5 3"'
        coords = [(px(t), py(v), t, v)
                  for t, v in sorted(pts, key=lambda p: _time(p[0])) if _time(t)]  # type: ignore[arg-type, return-value]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y, t, v in coords:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{_e(name)} {_e(t)}: '
                       f'{v:g}{_e(unit)}</title></circle>')
        ly = top + 6 + i * 16
        out.append(f'<line x1="{left + pw + 16}" y1="{ly}" x2="{left + pw + 34}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="3"{dash}/>')
        last = "" if not coords else f" {human_pct(coords[-1][3])}" if unit == "%" else f" {coords[-1][3]:g}"
        out.append(f'<text class="legend" x="{left + pw + 40}" y="{ly + 4}">{_e(name)}{_e(last)}</text>')
    for t, v, text in marks:
        if _time(t) is None:
            continue
        x, y = px(t), py(v)
        out.append(f'<rect class="crossing" x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="none" '
                   f'stroke="#c53030" stroke-width="2" transform="rotate(45 {x:.1f} {y:.1f})"><title>{_e(text)}</title>'
                   '</rect>')
    out.append("</svg>")
    return "".join(out)
