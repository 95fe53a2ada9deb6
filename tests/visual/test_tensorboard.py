"""`dlm train --tensorboard`: every step also lands in TensorBoard event files under the store.

The package is optional: these tests skip without it, except under CI, which
installs it. Without it, `--tensorboard` fails before training starts and
says how to install it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from dlm_core.cli.app import App
from dlm_core.cli.main import cli
from dlm_core.document.io import read_document
from dlm_core.metrics.db import MetricsDB
from dlm_core.metrics.report import run_details
from dlm_core.plugins import PluginHost
from dlm_core.protocols import StepLog
from dlm_core.store.store import Store
from dlm_core.training.phases import TrainOptions
from dlm_core.visual.tensorboard import (
    TensorBoardMissing,
    TensorBoardSink,
    require_tensorboard,
    tensorboard_dir,
)

MISSING = "--tensorboard needs the tensorboard package; install it with `pip install tensorboard`"


def _require(present: bool, reason: str) -> None:
    """Skip when absent, but fail under CI, where it must be present."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run this test, not skip it)")
    pytest.skip(reason)


@pytest.fixture
def tensorboard_installed() -> None:
    _require(
        importlib.util.find_spec("tensorboard") is not None,
        "tensorboard is not installed (pip install tensorboard)",
    )


@pytest.fixture
def train_flag() -> None:
    _require(
        "tensorboard" in attrs.fields_dict(TrainOptions),
        "dlm train has no --tensorboard yet (the phases.py/train_cmd.py patch is not applied)",
    )


def scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def dlm(home: Path, *args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--home", str(home), *[str(a) for a in args]], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_each_step_becomes_scalars_with_the_trainers_extra_metrics(
    tensorboard_installed: None, loop, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (detail,) = run_details(loop.store.metrics_path, run_id=loop.preference.metrics_run_id)
    with TensorBoardSink(tmp_path / "run") as sink:
        for s in detail.steps:
            sink(StepLog(s.step, s.loss, s.learning_rate, s.grad_norm, s.extra))
    written = scalars(tmp_path / "run")
    assert set(written) == {
        "train/loss",
        "train/learning_rate",
        "train/grad_norm",
        "rewards/margins",
        "rewards/accuracies",
        "rewards/chosen",
        "rewards/rejected",
    }
    assert [step for step, _ in written["train/loss"]] == [s.step for s in detail.steps]
    assert [v for _, v in written["train/loss"]] == pytest.approx(
        [s.loss for s in detail.steps], rel=1e-6
    )
    assert [v for _, v in written["rewards/margins"]] == pytest.approx(
        [s.extra["rewards/margins"] for s in detail.steps], abs=1e-6
    )


def test_without_the_package_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(
        TensorBoardMissing,
        match=r"^--tensorboard needs the tensorboard package; install it with `pip install tensorboard`$",
    ):
        require_tensorboard()


def test_dlm_train_tensorboard_writes_the_same_steps_under_the_store(
    train_flag: None,
    tensorboard_installed: None,
    tiny_doc: Path,
    dlm_home: Path,
    visual_host: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(App, "host", property(lambda _app: visual_host))
    code, _out, err = dlm(
        dlm_home, "train", tiny_doc, "--phase", "sft", "--max-steps", "3", "--tensorboard"
    )
    assert code == 0, err
    store = Store(dlm_home, read_document(tiny_doc).dlm_id)  # type: ignore[arg-type]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        (run,) = db.runs()
        steps = db.steps(run.id)
    log_dir = tensorboard_dir(store.root, run.id)
    assert log_dir == store.root / "tensorboard" / f"run-{run.id}"
    written = scalars(log_dir)
    assert [step for step, _ in written["train/loss"]] == [s.step for s in steps] == [1, 2, 3]
    assert [v for _, v in written["train/loss"]] == pytest.approx([s.loss for s in steps], rel=1e-6)


def test_dlm_train_tensorboard_without_the_package_fails_before_training(
    train_flag: None,
    tiny_doc: Path,
    dlm_home: Path,
    visual_host: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(App, "host", property(lambda _app: visual_host))
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    before = tiny_doc.read_bytes()
    code, out, err = dlm(dlm_home, "train", tiny_doc, "--tensorboard")
    assert (code, out) == (1, "")
    assert err.strip().splitlines()[-1] == f"error: {MISSING}"
    assert tiny_doc.read_bytes() == before
    assert not (dlm_home / "store").exists()  # no store, no run, no version
