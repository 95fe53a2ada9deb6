"""Option groups more than one command takes, declared once.

``dlm train`` and ``dlm loop`` both end a preference phase with the held-out
check, so both take its options; each group is a decorator that adds the
options and a function that turns the parsed values into the core's options.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dlm_core.cli.params import FINITE, SEED, FiniteFloatRange
from dlm_core.cli.plugin_options import judge_option, sampler_option
from dlm_core.specs import DEFAULT_JUDGE, DEFAULT_SAMPLER

F = TypeVar("F", bound=Callable[..., Any])

MINING = (
    "samples",
    "max_pairs",
    "judge",
    "threshold",
    "temperature",
    "top_p",
    "max_new_tokens",
    "sampler",
    "sampler_options",
    "judge_options",
    "pairs",
    "seed",
    "batch_size",
    "judge_batch_size",
    "judge_timeout",
    "device",
)


MINING_OPTIONS = [
    click.option(
        "--samples",
        type=click.IntRange(min=2),
        default=4,
        show_default=True,
        help="Candidates per prompt.",
    ),
    click.option(
        "--max-pairs",
        type=click.IntRange(min=1),
        help="Keep the N pairs with the largest margins.",
    ),
    click.option(
        "--judge",
        default=DEFAULT_JUDGE,
        show_default=True,
        help="sway, hf:<model>, cli:<command>, or a plugin's judge.",
    ),
    click.option(
        "--pairs",
        type=click.Choice(["judged", "reference"]),
        default="judged",
        show_default=True,
        help="judged: the judge's best vs worst candidate; reference: the document's own answer "
        "vs the worst candidate (SPIN).",
    ),
    click.option(
        "--document-check/--no-document-check",
        default=False,
        show_default=True,
        help="Also skip a judged pair whose chosen answer agrees with the document's answer less "
        "than the rejected one by the reference judge (contradicts_document). Off by default: on "
        "hand-labelled mined pairs it did not tell contradictions from rewordings.",
    ),
    click.option(
        "--yes-no-check/--no-yes-no-check",
        default=True,
        show_default=True,
        help="On a question the document answers yes or no, skip a judged pair whose chosen answer "
        "gives that yes or no less clearly than the rejected one (contradicts_document); the "
        "prompt's next best pair that passes is kept instead.",
    ),
    click.option(
        "--threshold",
        type=FINITE,
        help="Minimum chosen-minus-rejected score (default: the judge's).",
    ),
    click.option(
        "--temp",
        "temperature",
        type=FiniteFloatRange(min=0),
        default=0.7,
        show_default=True,
    ),
    click.option(
        "--top-p", type=FiniteFloatRange(0, 1, min_open=True), help="Nucleus sampling cut."
    ),
    click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True),
    click.option(
        "--sampler", default=DEFAULT_SAMPLER, show_default=True, help="Sampler plugin name."
    ),
    sampler_option,
    judge_option,
    click.option("--seed", type=SEED, help="Seed for reproducible candidates."),
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        help="Sampler batch size (default: automatic).",
    ),
    click.option(
        "--judge-batch-size",
        type=click.IntRange(min=1),
        help="Candidates per forward pass of a model judge (default: all of a prompt's).",
    ),
    click.option(
        "--judge-timeout",
        type=FiniteFloatRange(min=0, min_open=True),
        default=30.0,
        show_default=True,
        help="Seconds a cli: judge may take per candidate.",
    ),
    click.option("--device", help="cpu, cuda, cuda:1... (default: automatic)."),
]
"""The options of ``dlm preference mine`` that ``dlm loop`` takes too."""


def mining_options(command: F) -> F:
    """Add :data:`MINING_OPTIONS` to a command."""
    return _with(command, MINING_OPTIONS)


def mine_options_from(values: dict[str, Any], **fixed: Any) -> Any:
    """The :class:`~dlm_core.mining.run.MineOptions` of ``mining_options`` values (popped)."""
    from dlm_core.mining.run import MineOptions

    checks = {
        "check_document": values.pop("document_check"),
        "check_yes_no": values.pop("yes_no_check"),
    }
    return MineOptions(**{key: values.pop(key) for key in MINING}, **checks, **fixed)


HELD_OUT_OPTIONS = [
    click.option(
        "--eval-prompts",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Held-out prompts for the check after a preference phase (default: the ::eval:: sections).",
    ),
    click.option(
        "--eval-judge",
        help="Judge of that check (default: the judge that mined the pairs trained on).",
    ),
    click.option(
        "--eval-samples",
        type=click.IntRange(min=1),
        default=None,
        help="Answers per held-out prompt and version (default: enough for 64 comparisons, 4-16).",
    ),
    click.option(
        "--gate/--no-gate",
        default=None,
        help="Keep the parent current unless the new version wins the check "
        "(95% CI above one half). Default: training.preference.gate.",
    ),
]
"""``--eval-prompts``, ``--eval-judge``, ``--eval-samples`` and ``--gate/--no-gate``."""


def held_out_options(command: F) -> F:
    """Add :data:`HELD_OUT_OPTIONS` to a command."""
    return _with(command, HELD_OUT_OPTIONS)


def _with(command: F, options: list[Any]) -> F:
    """Apply click's option decorators so they list in the order given."""
    for option in reversed(options):
        command = option(command)
    return command


def held_out_from(values: dict[str, Any], *, device: str | None = None) -> Any:
    """The :class:`~dlm_core.evaluation.heldout.HeldOutOptions` of ``held_out_options`` values."""
    from dlm_core.evaluation.heldout import HeldOutOptions

    return HeldOutOptions(
        prompts_file=values.pop("eval_prompts"),
        judge=values.pop("eval_judge"),
        samples=values.pop("eval_samples"),
        gate=values.pop("gate"),
        device=device,
    )
