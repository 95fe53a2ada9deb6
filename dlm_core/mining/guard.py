"""The document check: a mined pair must not prefer what contradicts the document.

Mining prompts are the document's own ``::instruction::`` questions, and the
document holds its author's answer to each. A judge that knows nothing of
those answers (``sway`` measures how far training moved the model, a reward
model measures what it was trained to like) can choose "Yes." over "No, ..."
when the document says "No.". Such a pair, written in and trained on,
teaches the adapter to contradict its own document.

The check compares the pair's two answers by one or more *agreements*, each
a score of how well an answer agrees with the document's answer to the same
prompt:

- the yes/no agreement (:mod:`dlm_core.mining.yes_no`, on by default): on a
  question the document answers yes or no, the chosen answer must give that
  yes or no at least as clearly as the rejected one;
- the ``reference`` judge (``dlm-judge-reference``, with ``--document-check``):
  how well the document's answer restates the candidate. Off by default: its
  score follows wording, not meaning, and read by hand on 56 mined ``sway``
  pairs it replaced or skipped 29 of the 49 sound ones and only 2 of the 7
  contradicting ones (docs/judges.md).

A pair passes when its chosen answer agrees at least as well as its rejected
one by every agreement. When the judge's best pair does not, the check looks
for the next best pair among the prompt's candidates (the largest margin
that still clears the threshold) that does; only when there is none is the
prompt skipped as ``contradicts_document``, counted like every other skip.
Style still varies freely: two answers that agree equally pass whichever the
mining judge prefers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from dlm_core.context import PluginContext
from dlm_core.mining.scoring import checked_scores
from dlm_core.mining.selection import (
    Candidate,
    MinedPair,
    Skip,
    SkipReason,
    clears,
    near_duplicates,
)
from dlm_core.mining.yes_no import YesNoAgreement
from dlm_core.plugins import JudgeSpec, PluginHost, split_selector
from dlm_core.protocols import Judge

CHECK_JUDGE = "reference"
"""The judge that scores agreement with the document's answers under ``--document-check``."""

TOLERANCE = 0.0
"""How much less than the rejected answer the chosen one may agree, in each agreement's units.

Zero: the chosen answer must agree with the document at least as well as
the rejected one, the criterion ``bench/judge_agreement.py`` measures.
"""


class Agreement(Protocol):
    """How well answers agree with the document's answer to a prompt (higher: more)."""

    @property
    def name(self) -> str: ...

    def scores(self, prompt: str, texts: list[str]) -> list[float]: ...

    def why(self, chosen: float, rejected: float) -> str:
        """One line on why a chosen answer scoring ``chosen`` loses to a rejected one."""
        ...


@attrs.frozen
class JudgeAgreement:
    """A judge's scores (``reference``) read as agreement with the document."""

    judge: Judge
    name: str = CHECK_JUDGE

    def scores(self, prompt: str, texts: list[str]) -> list[float]:
        return checked_scores(self.judge, self.name, prompt, texts)

    def why(self, chosen: float, rejected: float) -> str:
        return (
            f"the document's answer fits the rejected answer better "
            f"({self.name} {rejected:.3g} vs {chosen:.3g} for the chosen one)"
        )


@attrs.frozen
class DocumentCheck:
    """Keeps a judged pair only when its chosen answer agrees with the document at least as well."""

    agreements: tuple[Agreement, ...]
    tolerance: float = TOLERANCE

    def __call__(self, pair: MinedPair) -> MinedPair | Skip:
        """``pair`` when it passes every agreement, else a ``contradicts_document`` skip."""
        texts = [pair.chosen.text, pair.rejected.text]
        for agreement in self.agreements:  # cheapest first: a failure spares the rest
            chosen, rejected = agreement.scores(pair.prompt, texts)
            if not self._passes(chosen, rejected):
                return Skip(
                    pair.prompt,
                    SkipReason.CONTRADICTS_DOCUMENT,
                    agreement.why(chosen, rejected),
                    pair.margin,
                )
        return pair

    def choose(
        self,
        best: MinedPair,
        candidates: list[Candidate],
        *,
        threshold: float,
        existing: set[tuple[str, str, str]] | frozenset[tuple[str, str, str]] = frozenset(),
    ) -> MinedPair | Skip:
        """``best`` when it passes, else the largest-margin pair of ``candidates`` that does.

        A pair of the alternatives must clear ``threshold`` like any pair and
        must not be near-duplicates. The best pair is checked alone first, so
        a prompt whose best pair passes costs each agreement two scores.
        """
        first = self(best)
        if isinstance(first, MinedPair):
            return first
        texts = [c.text for c in candidates]
        tables = [
            dict(zip(texts, agreement.scores(best.prompt, texts), strict=True))
            for agreement in self.agreements
        ]
        passing = [
            MinedPair(best.prompt, chosen, rejected)
            for chosen in candidates
            for rejected in candidates
            if clears(chosen.score - rejected.score, threshold)
            and all(self._passes(t[chosen.text], t[rejected.text]) for t in tables)
            and not near_duplicates(chosen.text, rejected.text)
        ]
        if not passing:
            return attrs.evolve(
                first, detail=f"{first.detail}; no other pair of the {len(texts)} candidates agrees"
            )
        pair = max(passing, key=lambda p: p.margin)
        if pair.key in existing:
            return Skip(pair.prompt, SkipReason.ALREADY_PRESENT, margin=pair.margin)
        return pair

    def _passes(self, chosen: float, rejected: float) -> bool:
        return chosen + self.tolerance >= rejected


def document_check(
    host: PluginHost,
    context: PluginContext,
    judge: str,
    answers: dict[str, list[str]],
    *,
    yes_no: bool,
    reference: bool,
    say: Callable[[str], None],
) -> DocumentCheck | None:
    """The check for a mine run with ``--judge judge``, or None when nothing is left to check.

    ``answers`` are the document's answers by question (:func:`~dlm_core.mining.prompts.reference_answers`).

    The ``reference`` agreement is left out when it is the mining judge itself
    (redundant) or not installed (mining then says so once).
    """
    agreements: list[Agreement] = []
    if yes_no:
        agreements.append(YesNoAgreement(answers))
    if reference and split_selector(judge)[0] != CHECK_JUDGE:
        if CHECK_JUDGE in host.specs(JudgeSpec):
            agreements.append(JudgeAgreement(host.judge(CHECK_JUDGE, context)))
        else:
            say(
                f"note: mined pairs are not checked against the document's answers by the "
                f"{CHECK_JUDGE!r} judge: it is not installed (pip install dlm-judge-reference)"
            )
    return DocumentCheck(tuple(agreements)) if agreements else None
