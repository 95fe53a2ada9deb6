"""SimPO's settings, read from a phase's ``TrainSettings`` and checked before anything loads.

``beta`` is dlm's ``training.preference.hyperparams.beta``. The target reward
margin gamma, which dlm has no field for, comes from
``training.preference.options``: ``gamma_beta_ratio`` (gamma = ratio × beta,
how the SimPO authors state their recipes) or ``gamma`` itself, not both.
``sft_weight`` optionally adds the chosen answer's NLL (CPO's BC term).
Plain Python, so a bad value is reported without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dlm_core.api import TrainingError, TrainSettings

OPTIONS = "training.preference.options"
DEFAULT_GAMMA_BETA_RATIO = 0.5
"""The SimPO authors' usual ratio (their Llama-3 and Mistral recipes use 0.3 to 0.8)."""

KNOWN_OPTIONS = ("gamma_beta_ratio", "gamma", "sft_weight")


@dataclass(frozen=True)
class SimpoSettings:
    """SimPO's loss: ``-log σ(beta·(mean log p(chosen) - mean log p(rejected)) - gamma)``
    plus ``sft_weight`` × the chosen answer's NLL."""

    beta: float
    gamma: float
    sft_weight: float = 0.0


def simpo_settings(settings: TrainSettings) -> SimpoSettings:
    """SimPO's settings from a preference phase's settings, or a :class:`TrainingError` saying what to fix."""
    options = dict(settings.options)
    unknown = sorted(set(options) - set(KNOWN_OPTIONS))
    if unknown:
        raise TrainingError(
            f"{OPTIONS} has {', '.join(map(repr, unknown))}, which the simpo trainer does not read; "
            f"it reads {', '.join(KNOWN_OPTIONS)}"
        )
    beta = settings.beta
    if not math.isfinite(beta) or beta <= 0:
        raise TrainingError(
            f"the simpo trainer needs training.preference.hyperparams.beta above 0, got {beta!r}; "
            "SimPO's authors use 2.0 to 10"
        )
    if "gamma" in options and "gamma_beta_ratio" in options:
        raise TrainingError(f"give {OPTIONS}.gamma or {OPTIONS}.gamma_beta_ratio, not both")
    if "gamma" in options:
        gamma = _non_negative(options, "gamma")
    else:
        ratio = _non_negative(options, "gamma_beta_ratio", DEFAULT_GAMMA_BETA_RATIO)
        gamma = ratio * beta
    return SimpoSettings(
        beta=beta, gamma=gamma, sft_weight=_non_negative(options, "sft_weight", 0.0)
    )


def _non_negative(options: dict[str, Any], key: str, default: float | None = None) -> float:
    value = options.get(key, default)
    number = _as_number(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise TrainingError(
            f"{OPTIONS}.{key} must be a number of at least 0, got {value!r} ({type(value).__name__})"
        )
    return number


def _as_number(value: Any) -> float | None:
    # YAML reads `yes`/`true` as bool, which Python counts as an int: never a margin.
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    # PyYAML reads `1e-3` (no dot) as a string; the options reach plugins untyped.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
