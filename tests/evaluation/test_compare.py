"""`dlm compare`: both versions answer held-out prompts; B's win rate with a Wilson interval."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from dlm_core import hookimpl
from dlm_core.document.io import read_document
from dlm_core.errors import DlmError
from dlm_core.evaluation.compare import CompareOptions, compare_versions
from dlm_core.evaluation.prompts import prompts_from_file
from dlm_core.evaluation.stats import wilson_interval
from dlm_core.metrics.db import MetricsDB
from dlm_core.outcomes import CompareItem
from dlm_core.plugins import JudgeSpec, PluginHost, SamplerSpec
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

EVAL = (
    "\n::eval::\n### Q\nWrite a one-line note for a removed flag.\n\n### Q\nHow long is an intro?\n"
)


class VersionSampler:
    """Answers tersely for adapter v0002, verbosely otherwise (so B should win with a terse judge)."""

    def __init__(self, context) -> None:  # type: ignore[no-untyped-def]
        self.adapter = context.adapter_path

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        terse = self.adapter is not None and self.adapter.name == "v0002"
        return [
            [("Short." if terse else f"A long, winding answer to {p!r}.") for _ in range(n)]
            for p in prompts
        ]


class TerseJudge:
    name = "terse"
    default_threshold = 1.0

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        return [-float(len(c)) for c in candidates]


class BrokenJudge(TerseJudge):
    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        return [float("nan")] * len(candidates)


@pytest.fixture
def host(dlm_host: PluginHost) -> PluginHost:
    @hookimpl
    def dlm_samplers():  # type: ignore[no-untyped-def]
        return [SamplerSpec(name="versioned", factory=VersionSampler)]

    @hookimpl
    def dlm_judges():  # type: ignore[no-untyped-def]
        return [
            JudgeSpec(name="terse", factory=lambda ctx, arg: TerseJudge()),
            JudgeSpec(name="broken", factory=lambda ctx, arg: BrokenJudge()),
        ]

    dlm_host.register(
        types.SimpleNamespace(dlm_samplers=dlm_samplers, dlm_judges=dlm_judges), "test-compare"
    )
    dlm_host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    return dlm_host


@pytest.fixture
def two_versions(tiny_doc: Path, host: PluginHost, dlm_home: Path) -> Path:
    tiny_doc.write_text(tiny_doc.read_text(encoding="utf-8") + EVAL, encoding="utf-8")
    for _ in range(2):
        train_document(
            Workspace(dlm_home, host, say=lambda m: None),
            tiny_doc,
            TrainOptions(phase="sft", progress=False, max_steps=1),
        )
    return tiny_doc


def compare(path: Path, host: PluginHost, home: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    options = CompareOptions(sampler="versioned", judge="terse", **kwargs)  # type: ignore[arg-type]
    return compare_versions(Workspace(home, host, say=lambda m: None), path, options)


def test_b_wins_every_held_out_prompt(two_versions: Path, host: PluginHost, dlm_home: Path) -> None:
    report = compare(two_versions, host, dlm_home, a="1", b="v0002", samples=2)
    assert (report.a, report.b, report.prompts, report.comparisons) == ("v0001", "v0002", 2, 4)
    assert (report.wins, report.losses, report.ties, report.win_rate) == (4, 0, 0, 1.0)
    assert report.ci_low == pytest.approx(wilson_interval(4, 4)[0]) and report.ci_high == 1.0
    assert report.mean_score_b > report.mean_score_a
    assert {i.prompt for i in report.items} == {
        "Write a one-line note for a removed flag.",
        "How long is an intro?",
    }


def test_identical_versions_tie(two_versions: Path, host: PluginHost, dlm_home: Path) -> None:
    report = compare(two_versions, host, dlm_home, a="1", b="1")
    assert (report.ties, report.win_rate) == (2, 0.5)
    assert report.ci_low < 0.5 < report.ci_high and not report.b_better


def test_base_can_be_side_a(two_versions: Path, host: PluginHost, dlm_home: Path) -> None:
    report = compare(two_versions, host, dlm_home, a="base", b="current")
    assert (report.a, report.b, report.wins) == ("base", "v0002", 2)


def test_the_comparison_is_a_metrics_run(
    two_versions: Path, host: PluginHost, dlm_home: Path
) -> None:
    report = compare(two_versions, host, dlm_home, a="1", b="2")
    store = Store(dlm_home, read_document(two_versions).dlm_id)  # type: ignore[arg-type]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        (run,) = db.runs(kind="compare")
        deltas = db.evals(run.id)
    assert run.id == report.run_id and run.summary["win_rate"] == 1.0 and len(deltas) == 2
    assert run.summary["items"][0]["answer_b"] == "Short."


def test_prompts_file_lines_or_jsonl(tmp_path: Path) -> None:
    plain = tmp_path / "p.txt"
    plain.write_text("first\n\nsecond\nfirst\n", encoding="utf-8")
    assert prompts_from_file(plain) == ["first", "second"]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text(
        json.dumps({"prompt": "a"}) + "\n" + json.dumps({"prompt": "b", "id": 2}) + "\n",
        encoding="utf-8",
    )
    assert prompts_from_file(jsonl) == ["a", "b"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(DlmError, match=r"bad.jsonl:1: expected"):
        prompts_from_file(bad)


def test_no_held_out_prompts_is_a_clear_error(
    tiny_doc: Path, host: PluginHost, dlm_home: Path
) -> None:
    train_document(
        Workspace(dlm_home, host, say=lambda m: None),
        tiny_doc,
        TrainOptions(phase="sft", progress=False, max_steps=1),
    )
    with pytest.raises(DlmError, match="no ::eval:: prompts"):
        compare(tiny_doc, host, dlm_home, a="base", b="1")


def test_an_unknown_version_lists_the_versions(
    two_versions: Path, host: PluginHost, dlm_home: Path
) -> None:
    with pytest.raises(DlmError, match="no adapter version v0009; versions: v0001, v0002"):
        compare(two_versions, host, dlm_home, a="9", b="1")


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)


def test_a_failed_comparison_is_recorded_as_a_failed_run(
    two_versions: Path, host: PluginHost, dlm_home: Path
) -> None:
    options = CompareOptions(sampler="versioned", judge="broken", a="1", b="2")
    with pytest.raises(DlmError, match="non-finite score"):
        compare_versions(Workspace(dlm_home, host, say=lambda m: None), two_versions, options)
    store = Store(dlm_home, read_document(two_versions).dlm_id)  # type: ignore[arg-type]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        (run,) = db.runs(kind="compare")
    assert run.status == "failed"


def _item(a: str, b: str, score_a: float, score_b: float) -> CompareItem:
    return CompareItem("q", 0, a, b, score_a, score_b)


def test_a_win_that_comes_only_from_shorter_answers_is_flagged() -> None:
    from dlm_core.evaluation.compare import summarize

    long, short = " ".join(["word"] * 30), "word word"
    items = [_item(long, short, -30.0, -2.0) for _ in range(12)]
    stats = summarize(items)
    controlled = stats["length_controlled"]
    assert stats["win_rate"] == 1.0 and stats["mean_words_a"] == 30 and stats["mean_words_b"] == 2
    assert controlled.comparisons == 0  # type: ignore[attr-defined]
    assert "length alone" in controlled.warning and "30 to 2 words" in controlled.warning  # type: ignore[attr-defined]


def test_a_win_among_answers_of_similar_length_is_not_flagged() -> None:
    from dlm_core.evaluation.compare import summarize

    a, b = " ".join(["plain"] * 10), " ".join(["clear"] * 9)  # 10% apart: similar
    items = [_item(a, b, 0.0, 1.0) for _ in range(12)]
    controlled = summarize(items)["length_controlled"]
    assert controlled.comparisons == 12 and controlled.win_rate == 1.0  # type: ignore[attr-defined]
    assert controlled.ci_low > 0.5 and controlled.warning is None  # type: ignore[attr-defined]


def test_a_mixed_win_reports_the_rate_over_the_similar_pairs_and_warns_when_it_is_not_a_win() -> (
    None
):
    from dlm_core.evaluation.compare import summarize

    long, short = " ".join(["word"] * 30), "word word"
    similar_a, similar_b = "one two three four five", "one two three four six"
    items = [_item(long, short, -30.0, -2.0) for _ in range(20)]
    items += [
        _item(similar_a, similar_b, 1.0, 0.0) for _ in range(4)
    ]  # B loses where lengths match
    controlled = summarize(items)["length_controlled"]
    assert controlled.comparisons == 4 and controlled.win_rate == 0.0  # type: ignore[attr-defined]
    assert "over the 4 comparisons of similar length it is 0%" in controlled.warning  # type: ignore[attr-defined]
