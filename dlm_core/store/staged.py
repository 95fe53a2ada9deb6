"""Staged mining plans: mined pairs waiting for ``dlm preference apply``.

Each mine run without ``--apply`` writes ``staged/run-NNNN.toml``. A plan cut
short by Ctrl-C is kept with ``complete = false`` so no judged pair is lost.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class StagedPair:
    """One mined preference pair with the judge's scores."""

    prompt: str
    chosen: str
    rejected: str
    score_chosen: float
    score_rejected: float

    @property
    def margin(self) -> float:
        return self.score_chosen - self.score_rejected


@attrs.frozen
class StagedPlan:
    """The pairs of one mine run, as written to ``staged/run-NNNN.toml``."""

    run_id: int
    created_at: str
    judge: str
    threshold: float
    # Defaults to None because TOML has no null: a plan mined with no adapter
    # version is written without this key and must read back the same.
    adapter_version: int | None = None
    pairs: list[StagedPair] = attrs.Factory(list)
    complete: bool = True
    # "document" for SPIN-style pairs (--pairs reference): each chosen answer is
    # the document's own. None (written without the key) for judged pairs.
    chosen_from: str | None = None
