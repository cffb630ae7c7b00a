"""A dependency-free SVG chart of benchmark results: one horizontal bar per workload (mean
time), with a whisker from min to max and a tick at each quartile.

>>> from kernels.benchmark_run import WorkloadResult, summarize
>>> svg = render_svg([WorkloadResult("A.x", summarize([1.0, 2.0]), [1.0, 2.0])], title="t")
>>> svg.startswith("<?xml") and svg.rstrip().endswith("</svg>")
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Sequence, Union
from xml.sax.saxutils import escape

from .benchmark_run import WorkloadResult

__all__ = ["render_svg", "write_svg"]

_BAR = 22
_GAP = 12
_LEFT = 260
_PLOT_W = 480
_TOP = 48


def _num(value: float) -> str:
    return f"{value:.2f}"


def render_svg(results: Sequence[WorkloadResult], *, title: str = "kernels benchmark") -> str:
    """The chart as SVG text."""
    scale_max = max([r.timing.max_ms for r in results] + [1e-9])
    height = _TOP + len(results) * (_BAR + _GAP) + 40
    width = _LEFT + _PLOT_W + 120

    def x(ms: float) -> float:
        return _LEFT + _PLOT_W * ms / scale_max

    parts: List[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="16">{escape(title)}</text>',
    ]
    for i, r in enumerate(results):
        t = r.timing
        y = _TOP + i * (_BAR + _GAP)
        mid = y + _BAR / 2
        parts += [
            f'<text x="{_LEFT - 8}" y="{_num(mid + 4)}" text-anchor="end">{escape(r.workload)}</text>',
            f'<rect x="{_LEFT}" y="{y}" width="{_num(x(t.mean_ms) - _LEFT)}" height="{_BAR}" fill="#4878d0">'
            f'<title>{escape(r.workload)}: mean {t.mean_ms} ms, std {t.std_ms} ms</title></rect>',
            f'<line x1="{_num(x(t.min_ms))}" y1="{_num(mid)}" x2="{_num(x(t.max_ms))}" y2="{_num(mid)}" '
            f'stroke="black"/>',
        ]
        for q in (t.min_ms, t.q1_ms, t.q3_ms, t.max_ms):
            parts.append(f'<line x1="{_num(x(q))}" y1="{_num(mid - 5)}" x2="{_num(x(q))}" y2="{_num(mid + 5)}" '
                         f'stroke="black"/>')
        parts.append(f'<text x="{_num(x(t.max_ms) + 6)}" y="{_num(mid + 4)}">{t.mean_ms:.4f} ms</text>')
    axis_y = _TOP + len(results) * (_BAR + _GAP)
    parts += [
        f'<line x1="{_LEFT}" y1="{axis_y}" x2="{_LEFT + _PLOT_W}" y2="{axis_y}" stroke="black"/>',
        f'<text x="{_LEFT}" y="{axis_y + 16}">0</text>',
        f'<text x="{_LEFT + _PLOT_W}" y="{axis_y + 16}" text-anchor="end">{scale_max:.4f} ms</text>',
        f'<text x="{_LEFT + _PLOT_W / 2}" y="{axis_y + 32}" text-anchor="middle">'
        'mean time per call (bar), min–max (whisker), quartiles (ticks)</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def write_svg(results: Sequence[WorkloadResult], path: Union[str, "os.PathLike[str]"], *,
              title: str = "kernels benchmark") -> Path:
    """Write :func:`render_svg` to ``path`` (UTF-8); return the path."""
    target = Path(path)
    target.write_text(render_svg(results, title=title), encoding="utf-8")
    return target
