"""How well a model fits the document: the mean loss on the answers it was trained on.

An SFT phase's final training loss is one noisy batch, taken with dropout
on; it does not say whether the adapter took on the document. This module
scores every answer token of the document's rows, in eval mode, under the
model the phase started from and under the adapter it wrote, so the summary
can say how far the loss on the document's own answers fell (from about 3
nats per token on the bare 135M base to well under 1 once it has learned
the answers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from dlm_core.protocols import LmRow

BATCH_SIZE = 8


@attrs.frozen
class AnswerFit:
    """Mean loss per answer token (nats) of a set of rows under one model.

    :ivar loss: the answer tokens' mean negative log-likelihood.
    :ivar tokens: how many answer tokens were scored.
    :ivar rows: how many rows they came from.
    """

    loss: float
    tokens: int
    rows: int


@attrs.frozen
class FitChange:
    """The answer loss under the phase's start model and under the adapter it trained."""

    before: AnswerFit
    after: AnswerFit

    @property
    def fell_by(self) -> float:
        return self.before.loss - self.after.loss

    def describe(self) -> str:
        return (
            f"loss on the document's answers {self.before.loss:.2f} -> {self.after.loss:.2f} "
            f"nats/token ({self.after.tokens} tokens in {self.after.rows} rows)"
        )

    def summary(self) -> dict[str, float]:
        """The figures a metrics run records."""
        return {
            "answer_loss_before": round(self.before.loss, 4),
            "answer_loss_after": round(self.after.loss, 4),
        }


def answer_rows(rows: list[LmRow]) -> list[LmRow]:
    """The rows that answer a prompt (some tokens carry no loss); all rows when none do.

    Prose rows carry loss on every token and would drown the answers, which
    are what a first adapter is meant to take on.
    """
    answered = [row for row in rows if 0 in row.loss_mask and 1 in row.loss_mask]
    return answered or [row for row in rows if 1 in row.loss_mask]


def answer_loss(model: Any, rows: list[LmRow], *, batch_size: int = BATCH_SIZE) -> AnswerFit:
    """The mean loss of ``model`` on the loss-carrying tokens of ``rows`` (eval mode, no grad).

    Token ``i`` counts when ``loss_mask[i]`` is 1 and ``i > 0`` (the first
    token is never predicted), as in training.
    """
    import torch

    device = next(model.parameters()).device
    total, count = 0.0, 0
    ordered = sorted(rows, key=lambda r: len(r.input_ids))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(ordered), batch_size):
                batch = ordered[start : start + batch_size]
                width = max(len(r.input_ids) for r in batch)
                ids = torch.zeros((len(batch), width), dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.bool)
                for i, row in enumerate(batch):
                    n = len(row.input_ids)
                    ids[i, :n] = torch.tensor(row.input_ids)
                    attention[i, :n] = 1
                    mask[i, :n] = torch.tensor(row.loss_mask, dtype=torch.bool)
                logits = model(
                    input_ids=ids.to(device), attention_mask=attention.to(device)
                ).logits.float()
                targets = ids[:, 1:].to(device)
                scored = mask[:, 1:].to(device)
                nll = torch.nn.functional.cross_entropy(
                    logits[:, :-1].transpose(1, 2), targets, reduction="none"
                )
                total += float(nll[scored].sum())
                count += int(scored.sum())
    finally:
        model.train(was_training)
    return AnswerFit(loss=total / count if count else float("nan"), tokens=count, rows=len(rows))


@contextlib.contextmanager
def adapter_applied(base_model: Any, adapter: Path) -> Iterator[Any]:
    """``base_model`` with the PEFT adapter in ``adapter`` loaded, then handed back bare."""
    import torch
    from peft import PeftModel

    with torch.inference_mode(False):
        model = PeftModel.from_pretrained(base_model, str(adapter))
    try:
        yield model
    finally:
        model.unload()  # puts the base layers back in place: the session's base stays bare


def sft_fit(base_model: Any, rows: list[LmRow], adapter: Path) -> FitChange:
    """The answer loss of a new SFT adapter's rows: under the bare base, then with ``adapter``."""
    scored = answer_rows(rows)
    before = answer_loss(base_model, scored)
    with adapter_applied(base_model, adapter) as model:
        after = answer_loss(model, scored)
    return FitChange(before=before, after=after)
