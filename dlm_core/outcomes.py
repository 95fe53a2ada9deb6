"""What runs report: the typed values that commands print and renderers read.

Each run kind has one summary class, stored in the metrics database through
the converter of :mod:`dlm_core.fileformat` and read back as the same class
(:func:`summary_of`), so ``dlm metrics``, ``dlm show`` and the pages name
fields that the type checker knows, and a renamed field breaks loudly in
one place. Every field has a default and unknown keys are ignored on read,
so a database written by an older or newer dlm still reads; ``format``
says which layout wrote it.
"""

from __future__ import annotations

from typing import Any

import attrs

from dlm_core.evaluation.stats import wilson_interval
from dlm_core.fileformat import converter
from dlm_core.protocols import LoraSettings, TrainSettings
from dlm_core.store.staged import StagedPair

SUMMARY_FORMAT = 1
TIE_TOLERANCE = 1e-9
SIMILAR_LENGTH = 0.2
"""Two answers are of similar length when their word counts differ by under 20% of the longer."""


# -- mining ------------------------------------------------------------------


@attrs.frozen
class MineConfig:
    """A mine run's settings, as its metrics run records them."""

    samples: int = 0
    max_pairs: int | None = None
    judge: str = ""
    threshold: float | None = None
    temperature: float = 0.0
    top_p: float | None = None
    max_new_tokens: int = 0
    sampler: str = ""
    apply: bool = False
    pairs: str = "judged"
    document_check: bool = False  # the reference agreement (--document-check)
    yes_no_check: bool = False  # False in runs recorded before the yes/no check existed


@attrs.frozen
class MineSummary:
    """A mine run as the metrics database keeps it (``pairs`` is a count)."""

    format: int = SUMMARY_FORMAT
    run_id: int = 0
    prompts: int = 0
    candidates: int = 0
    unique_candidates: int = 0
    truncated_candidates: int = 0
    unscored_candidates: int = 0  # left out: the judge gave them no score (NaN)
    pairs: int = 0
    skipped: dict[str, int] = attrs.Factory(dict)
    judge: str = ""
    threshold: float | None = None
    wall_seconds: float = 0.0
    sampling_seconds: float = 0.0
    judging_seconds: float = 0.0
    generated_tokens: int | None = None
    tokens_per_second: float | None = None
    applied: int = 0
    already_present_on_apply: int = 0
    staged_plan: str | None = None
    interrupted: bool = False
    sampler_model: str | None = None  # the model a served sampler said answered
    judge_model: str | None = None  # the model a served judge said answered


@attrs.frozen
class MineOutcome(MineSummary):
    """What one mine run found and where it went: its summary, and the pairs themselves.

    :ivar mined_pairs: the pairs kept (``pairs`` counts them), staged or written.
    """

    mined_pairs: list[StagedPair] = attrs.Factory(list)

    def summary(self) -> MineSummary:
        """The record the metrics database keeps: everything but the pairs' text."""
        data = converter.unstructure(self)
        del data["mined_pairs"]
        return converter.structure(data, MineSummary)

    def to_json(self) -> dict[str, Any]:
        """``dlm preference mine --json``: every field, ``pairs`` in full."""
        data: dict[str, Any] = converter.unstructure(self)
        data["pairs"] = data.pop("mined_pairs")
        return data


# -- training ----------------------------------------------------------------


@attrs.frozen
class PhaseConfig:
    """A training phase's settings, as its metrics run records them."""

    trainer: str = ""
    settings: TrainSettings | None = None
    lora: LoraSettings | None = None
    rows: dict[str, int] = attrs.Factory(dict)
    mined_included: int = 0
    mined_excluded: int = 0
    start_version: int | None = None
    base_model: str = ""
    num_processes: int = 1


@attrs.frozen
class PhaseOutcome:
    """One finished training phase, as reported to the user and kept in the metrics database.

    :ivar extra: the trainer's final figures (reward margin, SimPO's gamma...),
        stored flat as ``final_<name>`` keys beside the fields.
    """

    phase: str = ""
    trainer: str = ""
    version: int = 0
    steps: int = 0
    final_loss: float | None = None
    tokens: int = 0
    wall_seconds: float = 0.0
    rows: dict[str, int] = attrs.Factory(dict)
    mined_included: int = 0
    mined_excluded: int = 0
    metrics_run_id: int = 0
    extra: dict[str, float] = attrs.Factory(dict)
    notes: list[str] = attrs.Factory(list)
    format: int = SUMMARY_FORMAT
    held_out: HeldOutVerdict | None = None
    current: bool = True  # False when --gate kept the parent current

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0


def _unstructure_phase(outcome: PhaseOutcome) -> dict[str, Any]:
    data = {
        field.name: converter.unstructure(getattr(outcome, field.name))
        for field in attrs.fields(PhaseOutcome)
        if field.name != "extra"
    }
    data["tokens_per_second"] = round(outcome.tokens_per_second, 2)
    data.update({f"final_{key}": value for key, value in outcome.extra.items()})
    return data


def _structure_phase(data: dict[str, Any], _cls: type) -> PhaseOutcome:
    names = {field.name for field in attrs.fields(PhaseOutcome)}
    known = {key: value for key, value in data.items() if key in names and key != "extra"}
    extra = {
        key.removeprefix("final_"): float(value)
        for key, value in data.items()
        if key.startswith("final_")
        and key != "final_loss"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }
    return converter.structure_attrs_fromdict({**known, "extra": extra}, PhaseOutcome)


# -- comparing ---------------------------------------------------------------


@attrs.frozen
class CompareConfig:
    """A compare run's settings, as its metrics run records them."""

    a: str = ""
    b: str = ""
    judge: str = ""
    samples: int = 0
    seed: int = 0
    temperature: float = 0.0
    prompts_file: str = ""


@attrs.frozen
class CompareItem:
    """One (prompt, sample): A's and B's answers and their scores."""

    prompt: str
    sample: int
    answer_a: str
    answer_b: str
    score_a: float
    score_b: float

    @property
    def delta(self) -> float:
        return self.score_b - self.score_a

    @property
    def outcome(self) -> str:
        if abs(self.delta) <= TIE_TOLERANCE * max(1.0, abs(self.score_a), abs(self.score_b)):
            return "tie"
        return "win" if self.delta > 0 else "loss"

    @property
    def words_a(self) -> int:
        return len(self.answer_a.split())

    @property
    def words_b(self) -> int:
        return len(self.answer_b.split())

    @property
    def similar_length(self) -> bool:
        """Whether the two answers' lengths differ by under :data:`SIMILAR_LENGTH` (in words)."""
        longest = max(self.words_a, self.words_b)
        return longest == 0 or abs(self.words_a - self.words_b) < SIMILAR_LENGTH * longest


def _unstructure_item(item: CompareItem) -> dict[str, Any]:
    data = {field.name: getattr(item, field.name) for field in attrs.fields(CompareItem)}
    return {**data, "delta": item.delta, "outcome": item.outcome}


converter.register_unstructure_hook(CompareItem, _unstructure_item)


@attrs.frozen
class WinTally:
    """B against A over some comparisons: wins, losses, ties, the win rate (a tie counts as
    half a win) and its 95% Wilson interval."""

    comparisons: int = 0
    wins: int = 0
    losses: int = 0
    ties: int = 0
    win_rate: float = 0.0
    ci_low: float = 0.0
    ci_high: float = 1.0

    @property
    def better(self) -> bool:
        """True when the whole 95% interval lies above one half."""
        return self.ci_low > 0.5

    @staticmethod
    def counted(items: list[CompareItem]) -> dict[str, Any]:
        """The tally's fields for ``items``, to build any :class:`WinTally` with."""
        wins = sum(1 for i in items if i.outcome == "win")
        losses = sum(1 for i in items if i.outcome == "loss")
        ties = len(items) - wins - losses
        low, high = wilson_interval(wins + 0.5 * ties, len(items))
        rate = (wins + 0.5 * ties) / len(items) if items else 0.0
        return {
            "comparisons": len(items),
            "wins": wins,
            "losses": losses,
            "ties": ties,
            "win_rate": rate,
            "ci_low": low,
            "ci_high": high,
        }


@attrs.frozen
class LengthControlled(WinTally):
    """The win rate over comparisons whose answers are of similar length (a reward-hacking guard).

    A judge that simply prefers shorter (or longer) answers makes a version
    that only changed its length look better. Counting only the comparisons
    where the two answers' lengths differ by under 20% shows whether anything
    else improved; ``warning`` says so when the overall win is not borne out
    there. No such comparison: ``comparisons`` is 0 and the rate means nothing.
    """

    warning: str | None = None


@attrs.frozen
class CompareReport(WinTally):
    """The comparison a script gates on: B's win rate over A with its interval."""

    run_id: int = 0
    a: str = ""
    b: str = ""
    judge: str = ""
    prompts: int = 0
    samples: int = 0
    mean_score_a: float = 0.0
    mean_score_b: float = 0.0
    wall_seconds: float = 0.0
    items: list[CompareItem] = attrs.Factory(list)
    format: int = SUMMARY_FORMAT
    mean_words_a: float = 0.0
    mean_words_b: float = 0.0
    length_controlled: LengthControlled | None = None

    @property
    def b_better(self) -> bool:
        """True when the whole 95% interval lies above one half (``better``, as scripts name it)."""
        return self.better

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = converter.unstructure(self)
        data["b_better"] = self.b_better
        return data


@attrs.frozen
class HeldOutVerdict(WinTally):
    """How a preference phase's new version fared against its parent on held-out prompts.

    Kept in the version's ``run.json`` and its training run's summary.

    :ivar gated: ``--gate`` kept ``current`` on the parent because the new version did not win.
    """

    compare_run_id: int = 0
    judge: str = ""
    parent: int = 0
    version: int = 0
    prompts: int = 0
    mean_words_parent: float = 0.0
    mean_words_new: float = 0.0
    length_controlled_win_rate: float | None = None
    length_warning: str | None = None
    gated: bool = False

    def describe(self) -> str:
        """One line for the terminal and the metrics table."""
        line = (
            f"held-out: v{self.version:04d} vs v{self.parent:04d} won {self.win_rate:.0%} of "
            f"{self.comparisons} (95% CI {self.ci_low:.0%}-{self.ci_high:.0%}; {self.wins} wins, "
            f"{self.losses} losses, {self.ties} ties), answers {self.mean_words_parent:.0f} -> "
            f"{self.mean_words_new:.0f} words, judge {self.judge}"
        )
        if self.length_warning:
            line += f"; warning: {self.length_warning}"
        return line


# -- looping -----------------------------------------------------------------


@attrs.frozen
class LoopConfig:
    """A loop's settings, as its metrics run records them."""

    rounds: int = 0
    judge: str = ""
    eval_judge: str | None = None
    samples: int = 0
    max_pairs: int | None = None


@attrs.frozen
class LoopRound:
    """One round of ``dlm loop``: the pairs it mined, the version it trained, how that fared."""

    round: int = 0
    mine_run_id: int = 0
    pairs: int = 0
    parent: int = 0
    version: int | None = None
    train_run_id: int | None = None
    verdict: HeldOutVerdict | None = None

    def describe(self) -> str:
        head = f"round {self.round}: {self.pairs} pairs mined from v{self.parent:04d}"
        if self.version is None:
            return head + ", no version trained"
        if self.verdict is None:
            return head + f" -> v{self.version:04d}, not checked"
        v = self.verdict
        return (
            head + f" -> v{self.version:04d}: won {v.win_rate:.0%} (95% CI {v.ci_low:.0%}-"
            f"{v.ci_high:.0%}), answers {v.mean_words_parent:.0f} -> {v.mean_words_new:.0f} words"
        )


@attrs.frozen
class LoopSummary:
    """What ``dlm loop`` did: the round table, why it stopped, and the version left current."""

    rounds: list[LoopRound] = attrs.Factory(list)
    stopped: str = ""
    best_version: int = 0
    format: int = SUMMARY_FORMAT


# -- reading back ------------------------------------------------------------

SUMMARY_TYPES: dict[str, type] = {
    "train": PhaseOutcome,
    "mine": MineSummary,
    "compare": CompareReport,
    "loop": LoopSummary,
}
"""Run kind -> the class its summary is stored as."""

CONFIG_TYPES: dict[str, type] = {
    "train": PhaseConfig,
    "mine": MineConfig,
    "compare": CompareConfig,
    "loop": LoopConfig,
}
"""Run kind -> the class its settings are stored as."""

Summary = PhaseOutcome | MineSummary | CompareReport | LoopSummary
Config = PhaseConfig | MineConfig | CompareConfig | LoopConfig


def summary_of(kind: str, data: dict[str, Any]) -> Summary | None:
    """A stored summary as its typed value; None for a kind without one or an empty summary."""
    cls = SUMMARY_TYPES.get(kind)
    if cls is None or not data:
        return None
    value: Summary = converter.structure(data, cls)
    return value


def config_of(kind: str, data: dict[str, Any]) -> Config | None:
    """A stored run configuration as its typed value; None for a kind without one."""
    cls = CONFIG_TYPES.get(kind)
    if cls is None:
        return None
    value: Config = converter.structure(data, cls)
    return value


# Registered last: PhaseOutcome names classes defined further down.
converter.register_unstructure_hook(PhaseOutcome, _unstructure_phase)
converter.register_structure_hook(PhaseOutcome, _structure_phase)
