"""Calling a judge and holding it to its contract: one finite number per candidate."""

from __future__ import annotations

import math

from dlm_core.errors import DlmError, JudgeError
from dlm_core.protocols import Judge


def checked_scores(judge: Judge, name: str, prompt: str, texts: list[str]) -> list[float]:
    """``judge.score(prompt, texts)``, or a :class:`JudgeError` saying what was wrong."""
    try:
        scores = judge.score(prompt, texts)
    except (DlmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise JudgeError(f"judge {name!r} failed: {type(exc).__name__}: {exc}") from exc
    if len(scores) != len(texts):
        raise JudgeError(f"judge {name!r} returned {len(scores)} scores for {len(texts)} candidates")
    values = []
    for score in scores:
        if isinstance(score, bool | str | bytes):
            raise JudgeError(f"judge {name!r} returned a non-numeric score {score!r}")
        try:
            value = float(score)
        except (TypeError, ValueError):
            raise JudgeError(f"judge {name!r} returned a non-numeric score {score!r}") from None
        if not math.isfinite(value):
            raise JudgeError(f"judge {name!r} returned a non-finite score {score!r}")
        values.append(value)
    return values
