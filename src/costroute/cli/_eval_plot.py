"""``eval --plot``: PNG charts of the routing and cascade curves (needs the ``plot`` extra).

Each chart carries a title naming the data set and the models compared, and a warning line when
its figures are in-sample. Point labels are placed where they cover no point and no other label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from costroute._errors import CostrouteError
from costroute.evaluation._metrics import CostQuality, PairReport

__all__ = ["place_labels", "plot_cascade", "plot_pair", "require_matplotlib"]

_OFFSETS = [(6, 6), (6, -12), (-6, 6), (-6, -12), (0, 10), (0, -16), (12, -3), (-12, -3),
            (14, 14), (14, -20), (-14, 14), (-14, -20), (0, 22), (0, -28)]
_MARKER_PX = 5.0


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` (with a file backend), or a ``CostrouteError`` naming the extra.
    Called before any work, so that a long evaluation does not end in a missing package."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise CostrouteError("--plot needs matplotlib: pip install 'costroute[plot]'") from None
    return plt


def place_labels(ax: Any, points: Sequence[tuple[float, float]], labels: Sequence[str], *,
                 obstacles: Sequence[tuple[float, float]] = (), fontsize: float = 7) -> list[Any]:
    """Annotate each of ``points`` with its label, trying offsets around it until the label's box
    covers no point (of ``points`` or ``obstacles``, in data coordinates) and no earlier label."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    screen = [tuple(p) for p in ax.transData.transform([*points, *obstacles])] if (points or obstacles) else []
    placed: list[Any] = []
    boxes: list[Any] = []
    for (x, y), label in zip(points, labels, strict=True):
        best: tuple[int, Any, Any] | None = None
        for dx, dy in _OFFSETS:
            text = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                               ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                               va="bottom" if dy > 0 else "top")
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            clashes = sum(_covers(box, px, py) for px, py in screen) + sum(box.overlaps(b) for b in boxes)
            if best is None or clashes < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clashes, text, box)
            else:
                text.remove()
            if clashes == 0:
                break
        assert best is not None
        placed.append(best[1])
        boxes.append(best[2])
    return placed


def _covers(box: Any, x: float, y: float) -> bool:
    return bool(box.x0 - _MARKER_PX <= x <= box.x1 + _MARKER_PX and box.y0 - _MARKER_PX <= y <= box.y1 + _MARKER_PX)


def _finish(fig: Any, path: Path, title: str, warning: str | None) -> None:
    fig.suptitle(title, fontsize=10)
    if warning:
        fig.text(0.5, 0.005, warning, ha="center", va="bottom", fontsize=8, color="darkred")
    fig.tight_layout(rect=(0, 0.04 if warning else 0, 1, 0.95))
    fig.savefig(path)


def plot_pair(
    path: Path, reports: Mapping[str, PairReport],
    multi: tuple[list[CostQuality], list[CostQuality], dict[str, CostQuality]] | None,
    *, data: str, strong: str, weak: str, classifier: str, warning: str | None,
) -> Any:
    """The strong/weak routing curves, and with prices the cost-quality chart; returns the figure."""
    plt = require_matplotlib()
    ncols = 2 if multi else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 5), squeeze=False)
    ax = axes[0][0]
    for name, r in reports.items():
        ax.plot([p.share for p in r.curve], [p.quality for p in r.curve], marker=".", label=name)
    ax.set_xlabel(f"share of prompts sent to {strong}")
    ax.set_ylabel("mean quality")
    ax.set_title(f"{strong} vs {weak}", fontsize=9)
    ax.legend(fontsize=7)
    if multi:
        frontier, hull, singles = multi
        ax = axes[0][1]
        ax.plot([p.cost for p in frontier], [p.quality for p in frontier], label=f"{classifier} policy")
        ax.plot([p.cost for p in hull], [p.quality for p in hull], "--", label="mix single models by cost")
        points = [(p.cost, p.quality) for p in singles.values()]
        ax.scatter([x for x, _ in points], [y for _, y in points], s=18, zorder=3)
        ax.set_xlabel("$ per prompt")
        ax.set_ylabel("mean quality")
        ax.set_title("cost vs quality", fontsize=9)
        ax.legend(fontsize=7)
        place_labels(ax, points, [p.label for p in singles.values()],
                     obstacles=[(p.cost, p.quality) for p in [*frontier, *hull]])
    _finish(fig, path, f"Routing with {classifier} on {data}: {strong} (strong) vs {weak} (weak)", warning)
    return fig


def plot_cascade(path: Path, report: Any) -> Any:
    """Cascades against single models, prompt routing and the oracle, as shares of the strongest
    model (a :class:`~costroute.cli._eval_cascade.CascadeReport`); returns the figure."""
    from costroute.evaluation._heldout import pooled

    plt = require_matplotlib()
    best = report.singles[report.strongest]
    fig, ax = plt.subplots(figsize=(10, 6))
    obstacles: list[tuple[float, float]] = []
    if report.held_out is not None:
        for kind, label, style in (("cascade", "cascade, tasks held out", "-o"),
                                   ("routing", f"routing ({report.classifier}), tasks held out", "-s")):
            curve = [pooled(results) for _, results in sorted(report.held_out.items())]
            xy = [(getattr(p, f"{kind}_cost"), getattr(p, f"{kind}_quality")) for p in curve]
            xy = [(100 * x, 100 * y) for x, y in xy if x is not None and y is not None]
            if xy:
                ax.plot([x for x, _ in xy], [y for _, y in xy], style, markersize=4, label=label)
                obstacles += xy
    inside = [(100 * r.cascade.cost_share, 100 * r.cascade.quality_share)
              for _, r in sorted(report.in_sample.items()) if r.cascade.replay is not None]
    if inside:
        ax.plot([x for x, _ in inside], [y for _, y in inside], "--", color="grey", marker=".",
                label="cascade, in-sample (optimistic)")
        obstacles += inside
    singles = sorted(report.singles.values(), key=lambda p: p.cost)
    points = [(100 * p.cost / best.cost, 100 * p.quality / best.quality) for p in singles]
    oracle = (100 * report.oracle.cost / best.cost, 100 * report.oracle.quality / best.quality)
    ax.scatter([x for x, _ in points], [y for _, y in points], s=18, color="black", zorder=3, label="single models")
    ax.scatter([oracle[0]], [oracle[1]], marker="*", s=80, color="goldenrod", zorder=3, label="oracle (hindsight)")
    ax.set_xlabel(f"cost, % of {report.strongest}")
    ax.set_ylabel(f"quality, % of {report.strongest}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    place_labels(ax, [*points, oracle], [*(p.label for p in singles), "oracle"], obstacles=obstacles)
    warning = None
    if report.held_out is None:
        warning = "only one task in the data: every cascade figure is in-sample (optimistic)"
    elif report.classifier_in_sample:
        warning = f"routing: {report.classifier} was trained on {report.data} (in-sample)"
    _finish(fig, path, f"Cascades on {report.data}: quality and cost as shares of {report.strongest}", warning)
    return fig
