"""How one prompt's candidates become a pair: judged, or the document's answer against the worst.

``--pairs judged`` (the default): the judge scores the distinct candidates,
the best is chosen and the worst rejected (:func:`select_pair`), and the
pair then passes the document check (:mod:`dlm_core.mining.guard`), which
falls back on the prompt's best pair that agrees with the document.

``--pairs reference``: Self-Play Fine-Tuning's pairs (Chen et al. 2024,
"Self-Play Fine-Tuning Converts Weak Language Models to Strong Language
Models"). The chosen answer is the document's own answer to the prompt, the
rejected one is the adapter's worst-scored candidate, so the preference
phase pushes the adapter away from what it writes and toward what the
document says. The judge only picks which candidate to reject; a candidate
that is a near-duplicate of one of the document's answers is never rejected
(the adapter has learned that answer), and the margin (the document's
answer's score minus the rejected one's) must reach the threshold like any
pair's. The document check is not needed: the chosen answer *is* the
document's. Such pairs are marked ``chosen_from="document"`` in their
provenance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import attrs

from dlm_core.mining.guard import DocumentCheck
from dlm_core.mining.scoring import scored_only
from dlm_core.mining.selection import (
    Candidate,
    MinedPair,
    Skip,
    SkipReason,
    clears,
    near_duplicates,
    normalize,
    select_pair,
)

PairsMode = Literal["judged", "reference"]
PAIRS_MODES: tuple[PairsMode, ...] = ("judged", "reference")

Scorer = Callable[[str, list[str]], list[float]]
"""``score(prompt, texts)``: the judge's checked scores, one per text; NaN where it gave none."""


@attrs.frozen
class Pairing:
    """Turns a prompt's distinct complete candidates into a pair or a skip."""

    mode: PairsMode
    threshold: float
    answers: dict[str, list[str]]  # the document's answers by question
    check: DocumentCheck | None = None

    @property
    def chosen_from(self) -> str | None:
        """What a plan's provenance says about its chosen answers: ``document`` for SPIN pairs."""
        return "document" if self.mode == "reference" else None

    def pair(
        self,
        prompt: str,
        texts: list[str],
        score: Scorer,
        existing: set[tuple[str, str, str]],
    ) -> MinedPair | Skip:
        if self.mode == "reference":
            return self._against_reference(prompt, texts, score, existing)
        scored = scored_only(texts, score(prompt, texts))
        if len(scored) < 2:
            why = (
                f"the judge gave no score to {len(texts) - len(scored)} of {len(texts)} candidates"
            )
            return Skip(prompt, SkipReason.UNSCORED, why)
        result = select_pair(prompt, scored, threshold=self.threshold, existing=existing)
        if isinstance(result, MinedPair) and self.check is not None:
            return self.check.choose(result, scored, threshold=self.threshold, existing=existing)
        return result

    def _against_reference(
        self,
        prompt: str,
        texts: list[str],
        score: Scorer,
        existing: set[tuple[str, str, str]],
    ) -> MinedPair | Skip:
        answers = self.answers.get(normalize(prompt), [])
        if not answers:
            # Mining prompts are instruction questions, so this is a caller's mistake.
            raise ValueError(f"the document has no answer to {prompt!r}")
        others = [t for t in texts if not any(near_duplicates(a, t) for a in answers)]
        distinct = list(dict.fromkeys([answers[0], *others]))
        scores = dict(zip(distinct, score(prompt, distinct), strict=True))
        if math.isnan(scores[answers[0]]):
            return Skip(
                prompt, SkipReason.UNSCORED, "the judge gave the document's answer no score"
            )
        return select_reference_pair(
            prompt,
            Candidate(answers[0], scores[answers[0]]),
            [Candidate(t, scores[t]) for t in others if not math.isnan(scores[t])],
            threshold=self.threshold,
            existing=existing,
        )


def select_reference_pair(
    prompt: str,
    reference: Candidate,
    candidates: list[Candidate],
    *,
    threshold: float,
    existing: set[tuple[str, str, str]] | frozenset[tuple[str, str, str]] = frozenset(),
) -> MinedPair | Skip:
    """The document's answer against the worst-scored candidate, or why there is no pair.

    ``candidates`` are those that are not near-duplicates of the document's
    answers; when there are none, the adapter already writes the answer.
    """
    if not candidates:
        return Skip(
            prompt,
            SkipReason.TOO_SIMILAR,
            "every candidate is a near-duplicate of the document's answer",
        )
    rejected = min(candidates, key=lambda c: c.score)
    pair = MinedPair(prompt, reference, rejected)
    if not clears(pair.margin, threshold):
        why = (
            "the judge scores the candidate at least as high as the document's answer"
            if pair.margin <= 0
            else f"margin {pair.margin:.4g} < {threshold:.4g}"
        )
        return Skip(prompt, SkipReason.BELOW_THRESHOLD, why, pair.margin)
    if pair.key in existing:
        return Skip(prompt, SkipReason.ALREADY_PRESENT, margin=pair.margin)
    return pair
