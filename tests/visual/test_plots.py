"""`dlm metrics --plot`: real runs drawn as PNG, SVG or one HTML page; nothing to draw is an error."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from dlm_core.cli.main import cli
from dlm_core.errors import TrainingError
from dlm_core.metrics.report import run_details
from dlm_core.plugins import PluginHost
from dlm_core.testing import LoopTrainer
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.visual import PlotError
from dlm_core.visual.metrics_plot import plot_metrics
from dlm_core.visual.plots import (
    ACCURACY_KEY,
    MARGIN_KEY,
    LinePanel,
    MarginPanel,
    SkipPanel,
    choose_figures,
    figure_pixels,
)
from dlm_core.workspace import Workspace

SVG = "{http://www.w3.org/2000/svg}svg"


def dlm(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--home", str(home), *[str(a) for a in args]], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_default_picture_is_the_latest_run_of_each_phase(
    loop, tmp_path: Path, artifacts: Path
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "loop.png"
    figures = plot_metrics(loop.store.metrics_path, target)
    assert [f.run_id for f in figures] == [
        loop.sft.metrics_run_id,
        loop.mine.run_id,
        loop.preference.metrics_run_id,
    ]
    with Image.open(target) as image:
        image.load()
        assert image.format == "PNG"
        assert (
            image.size == figure_pixels(figures) == (960, 1200)
        )  # sft 1 row, mine 1 row, preference 2 rows
        assert (
            len(image.getcolors(maxcolors=1 << 16) or []) > 20
        )  # curves and bars, not a blank canvas
    (artifacts / "visual-metrics.png").write_bytes(target.read_bytes())


def test_a_training_run_draws_loss_and_learning_rate_for_every_step(loop) -> None:  # type: ignore[no-untyped-def]
    (figure,) = choose_figures(run_details(loop.store.metrics_path), run_id=loop.sft.metrics_run_id)
    loss, rate = figure.panels
    assert isinstance(loss, LinePanel) and isinstance(rate, LinePanel)
    assert (loss.quantity, rate.quantity) == ("loss", "learning rate")
    assert loss.steps == rate.steps == [1, 2, 3, 4, 5, 6]
    assert loss.values[-1] == pytest.approx(loop.sft.final_loss)
    assert rate.values == [1e-3] * 6


def test_a_preference_run_also_draws_reward_margin_and_accuracy(loop) -> None:  # type: ignore[no-untyped-def]
    details = run_details(loop.store.metrics_path, run_id=loop.preference.metrics_run_id)
    (figure,) = choose_figures(details, phase="preference")
    assert figure.run_id == loop.preference.metrics_run_id
    assert [p.quantity for p in figure.panels if isinstance(p, LinePanel)] == [
        "loss",
        "learning rate",
        "reward margin",
        "reward accuracy",
    ]
    margin, accuracy = figure.panels[2], figure.panels[3]
    assert isinstance(margin, LinePanel) and isinstance(accuracy, LinePanel)
    steps = details[0].steps
    assert margin.values == [s.extra[MARGIN_KEY] for s in steps]
    assert accuracy.values == [s.extra[ACCURACY_KEY] for s in steps]


def test_a_mine_run_draws_its_margins_against_the_threshold_and_its_skips(loop) -> None:  # type: ignore[no-untyped-def]
    (figure,) = choose_figures(run_details(loop.store.metrics_path), run_id=loop.mine.run_id)
    margins, skips = figure.panels
    assert isinstance(margins, MarginPanel) and isinstance(skips, SkipPanel)
    assert sorted(margins.kept) == sorted(p.margin for p in loop.mine.mined_pairs)
    assert margins.threshold == loop.mine.threshold == 1.0
    assert margins.below_threshold == [0.0] and len(margins.over_max_pairs) == 1
    assert dict(zip(skips.reasons, skips.counts, strict=True)) == loop.mine.skipped


def test_svg_is_one_well_formed_document(loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "sft.svg"
    plot_metrics(loop.store.metrics_path, target, phase="sft")
    root = ET.parse(target).getroot()
    assert root.tag == SVG
    assert root.get("viewBox") and len(list(root.iter())) > 100


def test_the_html_page_holds_every_run_and_an_inline_svg(loop, tmp_path: Path, read_page) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "loop.html"
    figures = plot_metrics(loop.store.metrics_path, target, title="notes.dlm: metrics")
    page = read_page(target.read_text(encoding="utf-8"))
    assert len(page.elements("svg")) == 1
    assert [a["id"] for a in page.elements("a") if "id" in a] == [
        f"run-{i}" for i in loop.run_ids[:3]
    ]
    for figure in figures:
        assert figure.caption in page.text
    assert page.network_references() == []


def test_a_run_with_no_steps_is_a_clear_error_and_no_picture(
    tiny_doc: Path, dlm_home: Path, dlm_host: PluginHost, tmp_path: Path
) -> None:
    from dlm_core.testing import loop_trainer_plugin

    dlm_host.register(loop_trainer_plugin(LoopTrainer(fail=True)), "failing-trainer")
    with pytest.raises(TrainingError):
        train_document(
            Workspace(dlm_home, dlm_host, say=lambda _m: None),
            tiny_doc,
            TrainOptions(phase="sft", progress=False),
        )
    target = tmp_path / "empty.png"
    code, out, err = dlm(dlm_home, "metrics", tiny_doc, "--run-id", "1", "--plot", target)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "error: run 1 (sft) failed before recording any training step "
        "(TrainingError: the 'sft' trainer failed: RuntimeError: boom); nothing to plot"
    ]
    assert not target.exists()
    code, _out, err = dlm(dlm_home, "metrics", tiny_doc, "--plot", target)
    assert (
        code == 1
        and "error: no run recorded training steps or mining events yet; nothing to plot" in err
    )
    assert not target.exists()


def test_the_cli_writes_the_picture_and_names_the_runs(loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "pref.svg"
    code, out, _err = dlm(
        loop.home, "metrics", loop.document, "--phase", "preference", "--plot", target
    )
    assert code == 0
    assert (
        out
        == f"wrote {target}: run {loop.preference.metrics_run_id}: preference (dpo), v0002, succeeded\n"
    )
    assert ET.parse(target).getroot().tag == SVG


def test_an_unsupported_format_is_a_clear_error(loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = dlm(loop.home, "metrics", loop.document, "--plot", tmp_path / "loop.jpg")
    assert code == 1
    assert (
        err.strip()
        == "error: cannot write a plot as 'loop.jpg': use a file name ending in .png, .svg, .html"
    )
    assert not (tmp_path / "loop.jpg").exists()


def test_a_compare_run_points_at_the_compare_page(loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        PlotError,
        match=r"run \d+ is a compare run; `dlm compare \.\.\. --html FILE` draws comparisons",
    ):
        plot_metrics(loop.store.metrics_path, tmp_path / "c.png", run_id=loop.compare.run_id)


@pytest.mark.parametrize("name", ["loop.png", "loop.svg", "loop.html"])
def test_without_matplotlib_the_error_says_how_to_install_it(
    loop, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(PlotError) as caught:
        plot_metrics(loop.store.metrics_path, tmp_path / name)
    assert str(caught.value) == (
        "plots need matplotlib, which is not installed; install it with `pip install 'dlm-core[plots]'`"
    )
    assert not (tmp_path / name).exists()
