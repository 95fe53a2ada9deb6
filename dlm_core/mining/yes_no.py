"""The yes/no check: on a question the document answers yes or no, the chosen answer must not say less.

Many ``::instruction::`` questions are yes/no questions ("Can a change merge
without a review?") and the document answers them in its first word ("No.
Every change needs one approving review."). A judge that knows nothing of
that answer can prefer "Yes." to "No, ...", and a pair that does teaches
the adapter to contradict its document. Read by hand, that was the one
contradiction in mined ``sway`` pairs that a rule can catch without reading
for meaning (bench/judge_agreement.py): the first word of an answer says
which way it goes.

An answer's agreement on such a question is +1 when its first word gives the
document's yes or no, -1 when it gives the opposite, 0 when it gives neither
("Comments are about the code." does not answer the question's yes/no). On
a question the document does not answer with yes or no, every answer scores
0, so the check never stands in the way there.
"""

from __future__ import annotations

import re

import attrs

from dlm_core.mining.selection import normalize

YES = frozenset({"yes", "yeah", "yep", "yup", "sure", "definitely", "absolutely", "certainly"})
NO = frozenset({"no", "nope", "never", "not", "don't", "dont", "can't", "cannot", "shouldn't"})

_FIRST_WORD = re.compile(r"[a-z']+")


def polarity(text: str) -> int:
    """+1 when ``text`` opens with yes, -1 with no, 0 otherwise (quotes, emphasis and case aside)."""
    lowered = text.lower().replace("\u2019", "'")
    match = _FIRST_WORD.search(lowered)
    if match is None or lowered[: match.start()].strip(" \t\n*_\"'`-#>.(") != "":
        return 0
    word = match.group()
    return 1 if word in YES else -1 if word in NO else 0


@attrs.frozen
class YesNoAgreement:
    """Agreement of answers with the document's yes or no (see the module docstring)."""

    answers: dict[str, list[str]]  # the document's answers by normalized question
    name: str = "yes/no"

    def document_polarity(self, prompt: str) -> int:
        """The document's yes (+1) or no (-1) to ``prompt``; 0 when it gives neither or both."""
        signs = {polarity(answer) for answer in self.answers.get(normalize(prompt), [])}
        return signs.pop() if len(signs) == 1 else 0

    def scores(self, prompt: str, texts: list[str]) -> list[float]:
        sign = self.document_polarity(prompt)
        return [float(sign * polarity(text)) for text in texts]

    def why(self, chosen: float, rejected: float) -> str:
        if chosen < 0:
            return "the document answers the question the other way than the chosen answer"
        return "the rejected answer gives the document's yes or no and the chosen one does not"
