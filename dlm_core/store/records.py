"""The store's file formats: the manifest and each version's ``run.json``."""

from __future__ import annotations

from typing import Any

import attrs

from dlm_core.outcomes import HeldOutVerdict


@attrs.frozen
class Manifest:
    """``manifest.json``: which document this store belongs to."""

    dlm_id: str
    created_at: str
    document_path: str
    base_model: str
    format: int = 1


@attrs.frozen
class RunRecord:
    """``adapters/vNNNN/run.json``: what one training phase did.

    :ivar rows: examples used, by section type.
    :ivar mined_included: auto-mined preference records trained on.
    :ivar mined_excluded: auto-mined records left out by ``--no-mined``.
    """

    version: int
    phase: str
    trainer: str
    parent_version: int | None
    base_model: str
    seed: int
    rows: dict[str, int]
    mined_included: int
    mined_excluded: int
    hyperparameters: dict[str, Any]
    steps: int
    final_loss: float | None
    tokens: int
    wall_seconds: float
    started_at: str
    finished_at: str
    metrics_run_id: int | None = None
    document_sha256: str = ""
    dlm_version: str = ""
    effective_batch_size: int | None = None
    num_processes: int = 1
    held_out: HeldOutVerdict | None = None

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0
