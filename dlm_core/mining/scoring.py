"""Calling a judge and holding it to its contract: one finite number per candidate.

A judge may return ``math.nan`` for a candidate it could not score (an LLM
judge whose reply could not be read): mining leaves that candidate out
(:func:`scored_only`), where every other command treats it as a failure.
"""

from __future__ import annotations

import inspect
import math

from dlm_core.errors import DlmError, JudgeError
from dlm_core.mining.selection import Candidate
from dlm_core.protocols import Judge


def _kind(value: object) -> str:
    if value is None:
        return "None"
    if inspect.isgenerator(value):
        return "a generator"
    return f"a {type(value).__name__}"


def checked_scores(
    judge: Judge, name: str, prompt: str, texts: list[str], *, allow_unscored: bool = False
) -> list[float]:
    """``judge.score(prompt, texts)``, or a :class:`JudgeError` saying what was wrong.

    With ``allow_unscored``, NaN ("no score for this candidate") passes through.
    """
    try:
        scores = judge.score(prompt, texts)
    except (DlmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise JudgeError(f"judge {name!r} failed: {type(exc).__name__}: {exc}") from exc
    if hasattr(scores, "tolist"):  # a numpy array or a tensor of scores
        scores = scores.tolist()
    if not isinstance(scores, list | tuple):
        raise JudgeError(
            f"judge {name!r} returned {_kind(scores)}; score() must return a list of numbers, "
            "one per candidate"
        )
    if len(scores) != len(texts):
        raise JudgeError(
            f"judge {name!r} returned {len(scores)} scores for {len(texts)} candidates"
        )
    values = []
    for score in scores:
        if isinstance(score, bool | str | bytes):
            raise JudgeError(f"judge {name!r} returned a non-numeric score {score!r}")
        try:
            value = float(score)
        except (TypeError, ValueError):
            raise JudgeError(f"judge {name!r} returned a non-numeric score {score!r}") from None
        if allow_unscored and math.isnan(value):
            values.append(value)
            continue
        if not math.isfinite(value):
            raise JudgeError(f"judge {name!r} returned a non-finite score {score!r}")
        values.append(value)
    return values


def scored_only(texts: list[str], scores: list[float]) -> list[Candidate]:
    """The candidates the judge gave a score to (NaN means it could not)."""
    return [Candidate(t, s) for t, s in zip(texts, scores, strict=True) if not math.isnan(s)]
