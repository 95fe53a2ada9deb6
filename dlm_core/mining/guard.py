"""The document check: a mined pair must not prefer what contradicts the document.

Mining prompts are the document's own ``::instruction::`` questions, and the
document holds its author's answer to each. A judge that knows nothing of
those answers (``sway`` measures how far training moved the model, a reward
model measures what it was trained to like) can choose "No." over "within
one working day" when the document says "within one working day". Such a
pair, written in and trained on, teaches the adapter to contradict its own
document.

So every judged pair is checked by the ``reference`` judge
(``dlm-judge-reference``), which scores how well an answer agrees with the
document's answer to the same prompt. A pair whose chosen answer agrees less
than its rejected one is skipped as ``contradicts_document``, counted like
every other skip. Style still varies freely: two answers that both agree
with the document pass whichever the mining judge prefers. The check is on
by default; ``dlm preference mine --no-document-check`` turns it off. It is
not needed when the mining judge is ``reference`` itself, and not possible
when ``dlm-judge-reference`` is not installed (mining then says so once).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from dlm_core.context import PluginContext
from dlm_core.mining.scoring import checked_scores
from dlm_core.mining.selection import MinedPair, Skip, SkipReason
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
    """Skips a pair whose chosen answer agrees with the document's answer less than the rejected one."""

    judge: Judge
    tolerance: float = TOLERANCE

    def __call__(self, pair: MinedPair) -> MinedPair | Skip:
        chosen, rejected = checked_scores(
            self.judge, CHECK_JUDGE, pair.prompt, [pair.chosen.text, pair.rejected.text]
        )
        if chosen + self.tolerance >= rejected:
            return pair
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
