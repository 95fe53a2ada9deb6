"""The document check: a mined pair must not prefer what contradicts the document.

Mining prompts are the document's own ``::instruction::`` questions, and the
document holds its author's answer to each. A judge that knows nothing of
those answers (``sway`` measures how far training moved the model, a reward
model measures what it was trained to like) can choose "No." over "within
one working day" when the document says "within one working day". Such a
pair, written in and trained on, teaches the adapter to contradict its own
document.

With ``--document-check`` every judged pair is checked by the ``reference`` judge
(``dlm-judge-reference``), which scores how well an answer agrees with the
document's answer to the same prompt. When the judge's best pair has a
chosen answer that agrees less than its rejected one, the check looks for
the next best pair among the prompt's candidates (the largest margin that
still clears the threshold) whose chosen answer agrees at least as well; only
when there is none is the prompt skipped as ``contradicts_document``, counted
like every other skip. Style still varies freely: two answers that both
agree with the document pass whichever the mining judge prefers, and a
judge whose favourite is a wrong answer still gets its preference between
right ones. It is not needed when the mining judge is ``reference`` itself,
and not possible when ``dlm-judge-reference`` is not installed (mining then
says so once).

It is off by default: its score follows wording, not meaning, and read by
hand on 56 mined ``sway`` pairs it replaced or skipped 29 of the 49 sound
ones and only 2 of the 7 contradicting ones (docs/judges.md).
"""

from __future__ import annotations

from collections.abc import Callable

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
from dlm_core.plugins import JudgeSpec, PluginHost, split_selector
from dlm_core.protocols import Judge

CHECK_JUDGE = "reference"
"""The judge that scores agreement with the document's answers."""

TOLERANCE = 0.0
"""How much less than the rejected answer the chosen one may agree, in the check judge's units.

Zero: the chosen answer must agree with the document at least as well as
the rejected one, the criterion ``bench/judge_agreement.py`` measures.
"""


@attrs.frozen
class DocumentCheck:
    """Keeps a judged pair only when its chosen answer agrees with the document at least as well."""

    judge: Judge
    tolerance: float = TOLERANCE

    def agreement(self, prompt: str, texts: list[str]) -> list[float]:
        """How well each text agrees with the document's answer to ``prompt`` (higher: more)."""
        return checked_scores(self.judge, CHECK_JUDGE, prompt, texts)

    def __call__(self, pair: MinedPair) -> MinedPair | Skip:
        """``pair`` when it passes, else a ``contradicts_document`` skip."""
        chosen, rejected = self.agreement(pair.prompt, [pair.chosen.text, pair.rejected.text])
        return pair if self._passes(chosen, rejected) else self._skip(pair, chosen, rejected)

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
        a prompt whose best pair passes costs the check two scores.
        """
        first = self(best)
        if isinstance(first, MinedPair):
            return first
        texts = [c.text for c in candidates]
        agrees = dict(zip(texts, self.agreement(best.prompt, texts), strict=True))
        passing = [
            MinedPair(best.prompt, chosen, rejected)
            for chosen in candidates
            for rejected in candidates
            if clears(chosen.score - rejected.score, threshold)
            and self._passes(agrees[chosen.text], agrees[rejected.text])
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

    def _skip(self, pair: MinedPair, chosen: float, rejected: float) -> Skip:
        return Skip(
            pair.prompt,
            SkipReason.CONTRADICTS_DOCUMENT,
            f"the document's answer fits the rejected answer better "
            f"({CHECK_JUDGE} {rejected:.3g} vs {chosen:.3g} for the chosen one)",
            pair.margin,
        )


def document_check(
    host: PluginHost,
    context: PluginContext,
    judge: str,
    *,
    enabled: bool,
    say: Callable[[str], None],
) -> DocumentCheck | None:
    """The check for a mine run with ``--judge judge``, or None when off, redundant or unavailable."""
    if not enabled or split_selector(judge)[0] == CHECK_JUDGE:
        return None
    if CHECK_JUDGE not in host.specs(JudgeSpec):
        say(
            f"note: mined pairs are not checked against the document's answers: the {CHECK_JUDGE!r} "
            "judge is not installed (pip install dlm-judge-reference)"
        )
        return None
    return DocumentCheck(host.judge(CHECK_JUDGE, context))
