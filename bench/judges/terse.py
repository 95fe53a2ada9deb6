#!/usr/bin/env python3
"""A cli judge that prefers terse, plain answers: ``--judge 'cli:python3 bench/judges/terse.py'``.

Score = -(words) - 10 x (hype marks), where a hype mark is an exclamation
mark or a word such as "amazing" or "exciting". An answer of under
:data:`TOO_SHORT` words is curt rather than terse and loses 10 more, so an
empty or one-word answer never wins. The scale is words: a mining
threshold of 5 keeps pairs whose chosen answer is at least five words
shorter (or one hype mark cleaner).

Reads ``{"prompt": ..., "candidate": ...}`` on stdin and prints
``{"score": ..., "reasoning": ...}`` (docs/judges.md, the ``cli:`` judge).
"""

from __future__ import annotations

import json
import re
import sys

HYPE = re.compile(
    r"!|\b(amazing|awesome|exciting|excited|incredible|revolutionary|fantastic|thrilled|"
    r"delighted|wonderful|game-changing|stunning|super)\b",
    re.IGNORECASE,
)
HYPE_PENALTY = 10.0  # one hype mark costs as much as ten words
TOO_SHORT = 3  # words
CURT_PENALTY = 10.0


def score(answer: str) -> tuple[float, str]:
    """The score of one answer and a line saying why."""
    words = len(answer.split())
    hype = len(HYPE.findall(answer))
    value = -float(words) - HYPE_PENALTY * hype
    why = f"{words} words, {hype} hype marks"
    if words < TOO_SHORT:
        value -= CURT_PENALTY
        why += ", too short"
    return value, why


def main() -> None:
    request = json.load(sys.stdin)
    value, why = score(str(request["candidate"]))
    print(json.dumps({"score": value, "reasoning": why}))


if __name__ == "__main__":
    main()
