"""``dlm train --tensorboard``: each training step also as TensorBoard scalars.

The sink hangs off the same per-step callback that writes the metrics
database, so TensorBoard sees exactly the steps ``dlm metrics`` reports.
Each training run writes under ``<store>/tensorboard/run-N/`` (N is the
metrics run id), so ``tensorboard --logdir <store>/tensorboard`` shows every
phase side by side. The ``tensorboard`` package is optional; without it,
``--tensorboard`` fails before training starts and says how to install it.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import TracebackType
from typing import Any

from dlm_core.errors import DlmError
from dlm_core.protocols import StepLog

INSTALL_HINT = "pip install tensorboard"


class TensorBoardMissing(DlmError):
    """``--tensorboard`` was asked for but the ``tensorboard`` package is not installed."""


def require_tensorboard() -> None:
    """Fail with the install command when the tensorboard package is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise TensorBoardMissing(
            f"--tensorboard needs the tensorboard package; install it with `{INSTALL_HINT}`"
        )


def tensorboard_dir(store_root: Path, run_id: int) -> Path:
    """Where one training run's event files go."""
    return store_root / "tensorboard" / f"run-{run_id}"


def scalar_tags(step: StepLog) -> dict[str, float]:
    """The scalars one step writes: ``train/loss``, ``train/learning_rate``,
    ``train/grad_norm``, and the trainer's extra metrics under their own
    names (TRL's ``rewards/margins`` stays ``rewards/margins``)."""
    values: dict[str, Any] = {
        "train/loss": step.loss,
        "train/learning_rate": step.learning_rate,
        "train/grad_norm": step.grad_norm,
        **step.extra,
    }
    return {
        tag: float(value)
        for tag, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


class TensorBoardSink:
    """Writes each :class:`~dlm_core.protocols.StepLog` it is called with as scalars."""

    def __init__(self, log_dir: Path) -> None:
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = SummaryWriter(log_dir=str(log_dir))

    def __call__(self, step: StepLog) -> None:
        for tag, value in scalar_tags(step).items():
            self._writer.add_scalar(tag, value, global_step=step.step)

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()

    def __enter__(self) -> TensorBoardSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
