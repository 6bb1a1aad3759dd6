"""`eval --plot`: checked before the work, titled, warned when in-sample, labels off the points;
and progress bars on a terminal only."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from costroute.cli import _progress
from costroute.cli._eval import register
from costroute.cli._progress import Bars

from .conftest import STRONG, WEAK, outcome_rows, write_jsonl

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def said(result) -> str:
    return " ".join(result.output.split())


def test_a_missing_matplotlib_is_reported_before_any_work(app: typer.Typer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    missing_data = tmp_path / "not-there.jsonl"
    for strategy in ("route", "cascade"):
        result = runner.invoke(app, ["eval", str(missing_data), "--strategy", strategy, "--plot",
                                     str(tmp_path / "p.png")])
        assert result.exit_code == 2
        assert "costroute[plot]" in said(result) and "cannot read" not in said(result)


def _labels_cover_no_point(fig) -> None:
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        points = [tuple(p) for c in ax.collections for p in ax.transData.transform(c.get_offsets())]
        labels = [t for t in ax.texts if t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for text, box in zip(labels, boxes, strict=True):
            for x, y in points:
                assert not (box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1), f"{text.get_text()!r} covers a point"
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1:]), "two labels overlap"


def test_route_plot_has_title_data_set_pair_and_in_sample_warning(app: typer.Typer, tmp_path: Path,
                                                                  prices_file: Path) -> None:
    pytest.importorskip("matplotlib")
    from costroute.cli import _eval_plot

    figures = []
    original = _eval_plot.plot_pair
    data = write_jsonl(tmp_path / "routellm-mmlu.jsonl", outcome_rows())  # the default was trained on it
    plot = tmp_path / "p.png"
    _eval_plot.plot_pair = lambda *a, **k: figures.append(original(*a, **k))  # type: ignore[assignment]
    try:
        result = runner.invoke(app, ["eval", str(data), "--strong", STRONG, "--weak", WEAK, "--prices",
                                     str(prices_file), "--plot", str(plot)])
    finally:
        _eval_plot.plot_pair = original  # type: ignore[assignment]
    assert result.exit_code == 0, result.output
    assert plot.stat().st_size > 10_000
    (fig,) = figures
    title = fig._suptitle.get_text()
    assert "routellm-mmlu.jsonl" in title and STRONG in title and WEAK in title
    assert any("in-sample" in t.get_text() for t in fig.texts)
    _labels_cover_no_point(fig)


def test_cascade_plot_has_title_and_labels_off_the_points(app: typer.Typer, cascade_file: Path,
                                                          tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from costroute.cli import _eval_plot

    figures = []
    original = _eval_plot.plot_cascade
    plot = tmp_path / "c.png"
    _eval_plot.plot_cascade = lambda *a, **k: figures.append(original(*a, **k))  # type: ignore[assignment]
    try:
        result = runner.invoke(app, ["eval", "--strategy", "cascade", str(cascade_file), "--classifier",
                                     "heuristic", "--plot", str(plot)])
    finally:
        _eval_plot.plot_cascade = original  # type: ignore[assignment]
    assert result.exit_code == 0, result.output
    (fig,) = figures
    assert "answers.jsonl" in fig._suptitle.get_text() and "big" in fig._suptitle.get_text()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "cascade, tasks held out" in legend and "cascade, in-sample (optimistic)" in legend
    _labels_cover_no_point(fig)


def test_place_labels_moves_a_label_off_a_crowded_point() -> None:
    pytest.importorskip("matplotlib")
    from costroute.cli._eval_plot import place_labels, require_matplotlib

    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(4, 3))
    points = [(1.0, 1.0), (1.05, 1.02), (1.1, 1.0), (1.0, 1.05)]
    ax.scatter([x for x, _ in points], [y for _, y in points])
    ax.set_xlim(0.8, 1.3)
    ax.set_ylim(0.9, 1.15)
    place_labels(ax, points, ["first model", "second", "third one", "fourth"])
    fig.canvas.draw()
    _labels_cover_no_point(fig)
    plt.close(fig)


def test_bars_draw_on_a_terminal_and_stay_silent_on_a_pipe() -> None:
    shown = io.StringIO()
    with Bars(Console(file=shown, force_terminal=True, width=80)) as bars:
        assert bars.enabled
        assert list(bars.track(range(3), "scoring prompts")) == [0, 1, 2]
        bars.task("searching")(2, 4)
    assert "scoring prompts" in shown.getvalue()
    piped = io.StringIO()
    with Bars(Console(file=piped, force_terminal=False)) as bars:
        assert not bars.enabled
        assert list(bars.track([1, 2], "scoring prompts")) == [1, 2]
    assert piped.getvalue() == ""


@pytest.mark.parametrize("command", ["eval", "calibrate", "train"])
def test_long_commands_show_progress_on_a_terminal(app: typer.Typer, cascade_file: Path, outcome_file: Path,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   command: str) -> None:
    if command == "train":
        pytest.importorskip("sklearn")
    shown = io.StringIO()
    monkeypatch.setattr(_progress, "Console", lambda **kw: Console(file=shown, force_terminal=True, width=100))
    args = {
        "eval": ["eval", "--strategy", "cascade", str(cascade_file), "--classifier", "heuristic"],
        "calibrate": ["calibrate", "--strategy", "cascade", str(cascade_file), "--target", "quality=0.9",
                      "-o", str(tmp_path / "c.yaml")],
        "train": ["train", str(outcome_file), "-o", str(tmp_path / "m.json.gz"), "--dim", "1024"],
    }[command]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    words = {"eval": "holding tasks out", "calibrate": "searching cascades", "train": "fitting on"}[command]
    assert words in shown.getvalue()
    assert words not in result.output  # not on the command's own output: CliRunner is no terminal
