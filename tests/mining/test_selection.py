"""Pair selection: best vs worst non-near-duplicate, thresholds and skips."""

from __future__ import annotations

from dlm_core.mining.selection import (
    Candidate,
    MinedPair,
    Skip,
    SkipReason,
    keep_largest,
    near_duplicates,
    select_pair,
    unique_candidates,
)


def c(text: str, score: float) -> Candidate:
    return Candidate(text, score)


def test_the_pair_is_the_best_and_the_worst_candidate() -> None:
    pair = select_pair("q", [c("mid", 0.5), c("best", 0.9), c("worst", 0.1)], threshold=0.0)
    assert isinstance(pair, MinedPair)
    assert (pair.chosen.text, pair.rejected.text) == ("best", "worst")
    assert abs(pair.margin - 0.8) < 1e-12


def test_a_near_duplicate_of_the_best_is_never_the_rejected_one() -> None:
    best = "Short, factual, and low-drama release notes."
    dup = "Short, factual, and low-drama release notes!"
    pair = select_pair(
        "q", [c(best, 0.9), c("Something else entirely.", 0.5), c(dup, 0.1)], threshold=0.0
    )
    assert isinstance(pair, MinedPair) and pair.rejected.text == "Something else entirely."


def test_only_near_duplicates_is_too_similar() -> None:
    result = select_pair(
        "q",
        [
            c("Short, factual notes for every release.", 0.9),
            c("Short, factual notes for every release!", 0.1),
        ],
        threshold=0.0,
    )
    assert isinstance(result, Skip) and result.reason is SkipReason.TOO_SIMILAR


def test_fewer_than_two_candidates_is_insufficient_variety() -> None:
    result = select_pair("q", [c("only", 1.0)], threshold=0.0)
    assert isinstance(result, Skip) and result.reason is SkipReason.INSUFFICIENT_VARIETY


def test_a_margin_below_the_threshold_is_skipped() -> None:
    result = select_pair("q", [c("a", 0.5), c("b b b", 0.4)], threshold=0.2)
    assert isinstance(result, Skip) and result.reason is SkipReason.BELOW_THRESHOLD


def test_a_pair_already_in_the_document_is_skipped() -> None:
    result = select_pair(
        "q", [c("a", 0.5), c("bbb", 0.1)], threshold=0.0, existing={("q", "a", "bbb")}
    )
    assert isinstance(result, Skip) and result.reason is SkipReason.ALREADY_PRESENT


def test_unique_candidates_drops_empty_and_repeated_texts_and_normalises_newlines() -> None:
    assert unique_candidates(["  a\r\nb ", "", "   ", "a\nb", "c"]) == ["a\nb", "c"]


def test_near_duplicate_uses_a_095_ratio() -> None:
    assert near_duplicates("x" * 100, "x" * 99 + "y")
    assert not near_duplicates("abcdefghij", "abcdefghXY")


def test_max_pairs_keeps_the_largest_margins_in_document_order() -> None:
    pairs = [MinedPair(str(i), c("a", m), c("b", 0.0)) for i, m in enumerate([0.3, 0.9, 0.1, 0.5])]
    kept, dropped = keep_largest(pairs, 2)
    assert [p.prompt for p in kept] == ["1", "3"]
    assert sorted(p.prompt for p in dropped) == ["0", "2"]
