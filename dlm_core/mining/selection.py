"""Choosing one preference pair from a prompt's scored candidates.

The chosen answer is the best-scored candidate; the rejected one is the
worst-scored candidate that is not a near-duplicate of it (difflib ratio
above 0.95). A prompt yields no pair when it has fewer than two distinct
complete candidates (answers cut off at the token limit do not count, nor
do answers a document cannot hold), when every alternative is a
near-duplicate, when the margin is below the threshold, or when the same
pair is already in the document.
"""

from __future__ import annotations

import difflib
from enum import StrEnum

import attrs

from dlm_core.document.readable import first_unreadable

NEAR_DUPLICATE_RATIO = 0.95


class SkipReason(StrEnum):
    INSUFFICIENT_VARIETY = "insufficient_variety"
    TRUNCATED = "truncated"
    UNSCORED = "unscored"
    TOO_SIMILAR = "too_similar"
    BELOW_THRESHOLD = "below_threshold"
    ALREADY_PRESENT = "already_present"
    OVER_MAX_PAIRS = "over_max_pairs"
    UNREADABLE_TEXT = "unreadable_text"  # counted per candidate, not per prompt
    CONTRADICTS_DOCUMENT = "contradicts_document"  # see dlm_core.mining.guard


@attrs.frozen
class Candidate:
    """One sampled answer and, once judged, its score."""

    text: str
    score: float


@attrs.frozen
class MinedPair:
    prompt: str
    chosen: Candidate
    rejected: Candidate

    @property
    def margin(self) -> float:
        return self.chosen.score - self.rejected.score

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.prompt, self.chosen.text, self.rejected.text)


@attrs.frozen
class Skip:
    prompt: str
    reason: SkipReason
    detail: str = ""
    margin: float | None = None  # when a pair was formed but not kept


def normalize(text: str) -> str:
    """Candidate text as it will be stored: no CRs, no surrounding blank space."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def readable_candidates(prompt: str, candidates: list[str]) -> tuple[list[str], list[Skip]]:
    """The candidates a document can hold, and a skip for each one it cannot.

    A candidate holding a NUL or a lone surrogate could never be read back
    (see :mod:`dlm_core.document.readable`), so it takes no part in a pair.
    """
    kept, skips = [], []
    for index, text in enumerate(candidates):
        bad = first_unreadable(text)
        if bad is None:
            kept.append(text)
        else:
            detail = f"candidate {index + 1} of {len(candidates)} holds {bad.describe()}"
            skips.append(Skip(prompt, SkipReason.UNREADABLE_TEXT, detail))
    return kept, skips


def unique_candidates(texts: list[str]) -> list[str]:
    """Distinct non-empty candidates, first occurrence order."""
    seen: dict[str, None] = {}
    for text in texts:
        cleaned = normalize(text)
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def near_duplicates(a: str, b: str) -> bool:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    # quick_ratio is an upper bound: skip the full ratio when it cannot exceed the cut.
    return matcher.quick_ratio() > NEAR_DUPLICATE_RATIO and matcher.ratio() > NEAR_DUPLICATE_RATIO


def clears(margin: float, threshold: float) -> bool:
    """Whether a pair's margin makes it a preference: above zero (a tie never is) and the threshold."""
    return margin > 0 and margin >= threshold


def select_pair(
    prompt: str,
    candidates: list[Candidate],
    *,
    threshold: float,
    existing: set[tuple[str, str, str]] | frozenset[tuple[str, str, str]] = frozenset(),
) -> MinedPair | Skip:
    """The best-vs-worst pair for ``prompt``, or why there is none."""
    if len(candidates) < 2:
        return Skip(
            prompt, SkipReason.INSUFFICIENT_VARIETY, f"{len(candidates)} distinct candidate(s)"
        )
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    chosen = ranked[0]
    rejected = next(
        (c for c in reversed(ranked[1:]) if not near_duplicates(chosen.text, c.text)), None
    )
    if rejected is None:
        return Skip(
            prompt, SkipReason.TOO_SIMILAR, "every alternative is a near-duplicate of the best"
        )
    pair = MinedPair(prompt, chosen, rejected)
    if not clears(pair.margin, threshold):
        why = "a tie" if pair.margin <= 0 else f"margin {pair.margin:.4g} < {threshold:.4g}"
        return Skip(prompt, SkipReason.BELOW_THRESHOLD, why, pair.margin)
    if pair.key in existing:
        return Skip(prompt, SkipReason.ALREADY_PRESENT, margin=pair.margin)
    return pair


def keep_largest(
    pairs: list[MinedPair], max_pairs: int | None
) -> tuple[list[MinedPair], list[MinedPair]]:
    """``(kept, dropped)``: the ``max_pairs`` largest margins, kept in their original order."""
    if max_pairs is None or len(pairs) <= max_pairs:
        return list(pairs), []
    ranked = sorted(range(len(pairs)), key=lambda i: pairs[i].margin, reverse=True)
    keep = set(ranked[:max_pairs])
    return [p for i, p in enumerate(pairs) if i in keep], [
        p for i, p in enumerate(pairs) if i not in keep
    ]
