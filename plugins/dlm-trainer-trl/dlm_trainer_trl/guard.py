"""The overshoot guard of the preference phases: stop when the chosen answers lose likelihood.

DPO only asks that the chosen answer gain on the rejected one. Pushed too
hard, it gets there by lowering both, the rejected faster: the margin keeps
growing while the answers the user preferred become less likely, and the
adapter drifts toward text neither answer contained (the classic DPO
failure). ORPO's language-model term resists this, but a large step can
still do it.

:class:`ChosenGuard` watches, at every logged step, how far the chosen
answers' log-probability per token has moved since the phase started,
averaged over each pass over the pairs (so every pair counts once, the
same pairs each time). When a pass's average falls below ``-tolerance`` it stops the
phase (``guard: stop``, the default) and puts back the adapter's weights as
they were at the end of the last pass still within the tolerance (the
overshoot can happen within one pass: the steps that caused it are not
kept). Where the signal starts at zero (DPO against the adapter the phase
starts from), the start itself is within the tolerance: a first pass that
already overshoots gives back the starting adapter, so the new version is
its parent unchanged and says so, never an adapter past the tolerance.
``guard: warn`` only reports it;
``guard: off`` turns it off. Either way :meth:`ChosenGuard.report` goes into
``TrainResult.extra``: numbers for the metrics run and a note the phase
summary prints.

The signal comes from what TRL logs each step:

- DPO: ``rewards/chosen`` is ``beta`` times the chosen answers' summed
  log-probability minus the reference's, so divided by ``beta`` and by the
  mean chosen length it is the change per token since the reference (zero
  at the start with ``reference: pre_adapter``);
- ORPO: ``logps/chosen`` is the chosen answers' mean log-probability per
  token; its first pass is the starting point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transformers import TrainerCallback

from dlm_core.api import TrainingError

MODES = ("stop", "warn", "off")
DEFAULT_TOLERANCE = 0.1
"""Nats per token the chosen answers may lose before the guard acts."""


@dataclass(frozen=True)
class GuardSettings:
    """``training.preference.options``: ``guard`` (stop, warn, off) and ``guard_tolerance``."""

    mode: str = "stop"
    tolerance: float = DEFAULT_TOLERANCE

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> GuardSettings:
        mode = str(options.get("guard", "stop")).strip().lower()
        if mode not in MODES:
            raise TrainingError(
                f"training.preference.options.guard must be one of {', '.join(MODES)}, got {mode!r}"
            )
        tolerance = options.get("guard_tolerance", DEFAULT_TOLERANCE)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
            raise TrainingError(
                "training.preference.options.guard_tolerance must be a number of nats per "
                f"token, 0 or more; got {tolerance!r}"
            )
        return cls(mode, float(tolerance))


Signal = Callable[[dict[str, Any]], float | None]
"""From one step's logs, the chosen answers' log-probability per token (None: not logged)."""


def dpo_signal(beta: float, mean_chosen_tokens: float) -> Signal:
    """The chosen answers' change in log-probability per token against DPO's reference."""
    scale = beta * max(mean_chosen_tokens, 1.0)

    def signal(logs: dict[str, Any]) -> float | None:
        value = logs.get("rewards/chosen")
        return float(value) / scale if isinstance(value, int | float) and scale > 0 else None

    return signal


def orpo_signal(logs: dict[str, Any]) -> float | None:
    """ORPO's logged mean log-probability per token of the chosen answers."""
    value = logs.get("logps/chosen")
    return float(value) if isinstance(value, int | float) else None


@dataclass
class ChosenGuard(TrainerCallback):  # type: ignore[misc]
    """A TrainerCallback that stops (or flags) a phase whose chosen answers lose likelihood.

    :ivar signal: reads the chosen log-probability per token from a step's logs.
    :ivar window: the steps of one pass over the pairs.
    :ivar relative: whether the signal needs its first pass subtracted
        (ORPO, or DPO against the base); False when it starts at zero.
    """

    signal: Signal
    window: int
    settings: GuardSettings = field(default_factory=GuardSettings)
    relative: bool = False
    values: list[float] = field(default_factory=list)
    margins: list[float] = field(default_factory=list)
    tripped_at: int | None = None
    tripped_drift: float | None = None
    kept: dict[str, Any] | None = None  # trainable weights at the last pass within tolerance
    kept_step: int | None = None
    rolled_back_to: int | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # A signal that starts at zero is within the tolerance at step 0: the start is a
        # state to go back to. A relative one (ORPO, DPO against the base) has no start
        # value until its first pass, whose end is the first state kept.
        if self.settings.mode == "stop" and not self.relative:
            self._keep(kwargs.get("model"), 0)

    def _pass_mean(self, index: int) -> float:
        chunk = self.values[index * self.window : (index + 1) * self.window]
        return sum(chunk) / len(chunk)

    def drift(self) -> float | None:
        """The last whole pass's mean change per token since the start (None before one).

        Passes are counted from the first step, so each holds every pair once;
        a window straddling two passes could hold the hardest batch twice.
        """
        passes = len(self.values) // self.window
        first = 1 if self.relative else 0
        if passes <= first:
            return None
        start = self._pass_mean(0) if self.relative else 0.0
        return self._pass_mean(passes - 1) - start

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not logs or "loss" not in logs or self.settings.mode == "off":
            return
        value = self.signal(logs)
        if value is None:
            return
        self.values.append(value)
        margin = logs.get("rewards/margins")
        if isinstance(margin, int | float):
            self.margins.append(float(margin))
        drift = self.drift()
        if self.tripped_at is None and drift is not None and drift < -self.settings.tolerance:
            self.tripped_at, self.tripped_drift = int(state.global_step), drift
            if self.settings.mode == "stop":
                control.should_training_stop = True
                self._roll_back(kwargs.get("model"))
        elif (
            self.tripped_at is None
            and self.settings.mode == "stop"
            and len(self.values) % self.window == 0
        ):
            self._keep(kwargs.get("model"), int(state.global_step))

    def _keep(self, model: Any, step: int) -> None:
        """Remember the trainable weights at the end of a pass within the tolerance."""
        if model is None:
            return
        self.kept = {
            name: param.detach().clone()
            for name, param in model.named_parameters()
            if param.requires_grad
        }
        self.kept_step = step

    def _roll_back(self, model: Any) -> None:
        """Put back the weights :meth:`_keep` remembered last, if any."""
        if model is None or self.kept is None:
            return
        import torch

        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in self.kept:
                    param.copy_(self.kept[name])
        self.rolled_back_to, self.kept = self.kept_step, None

    def report(self, total_steps: int) -> dict[str, Any]:
        """What goes into ``TrainResult.extra``: numbers, and a note when the guard acted."""
        if self.settings.mode == "off":
            return {}
        drift = self.drift()
        extra: dict[str, Any] = {"guard_tripped": int(self.tripped_at is not None)}
        if drift is not None:
            extra["guard_chosen_drift"] = round(drift, 4)
        if self.tripped_at is None:
            return extra
        extra["guard_step"] = self.tripped_at
        if self.rolled_back_to is not None:
            extra["guard_kept_step"] = self.rolled_back_to
        extra["notes"] = [self._note(total_steps)]
        return extra

    def _note(self, total_steps: int) -> str:
        """What the phase summary prints about the guard (it acted: ``tripped_at`` is set)."""
        assert self.tripped_at is not None
        lost = f"the chosen answers lost {-(self.tripped_drift or 0.0):.2f} nats/token"
        margin = (
            f" while the reward margin went {self.margins[0]:.2f} -> {self.margins[-1]:.2f}"
            if len(self.margins) > 1
            else ""
        )
        if self.settings.mode == "stop" and self.rolled_back_to == 0:
            note = (
                f"stopped at step {self.tripped_at} of {total_steps}: {lost}{margin} (tolerance "
                f"{self.settings.tolerance:g}) within the first pass, the classic DPO overshoot; "
                "kept the adapter the phase started from, so this version answers as its parent; "
                "lower learning_rate or raise beta, or mine pairs that differ more"
            )
        elif self.settings.mode == "stop" and self.rolled_back_to is not None:
            when = (
                f"at the last step ({self.tripped_at})"
                if self.tripped_at >= total_steps
                else f"stopped at step {self.tripped_at} of {total_steps}"
            )
            note = (
                f"{when}: {lost}{margin} (tolerance {self.settings.tolerance:g}), the classic DPO "
                f"overshoot; kept the adapter as it was at step {self.rolled_back_to}, the end of "
                "the last pass within the tolerance; lower learning_rate or raise beta, or set "
                "training.preference.options.guard: warn to train on"
            )
        elif self.settings.mode == "stop" and self.tripped_at >= total_steps:
            note = (
                f"warning: by the last step ({self.tripped_at}) {lost}{margin} (tolerance "
                f"{self.settings.tolerance:g}), so the guard had nothing left to stop; the adapter "
                "may be drifting away from the answers it was meant to prefer"
            )
        elif self.settings.mode == "stop":
            note = (
                f"stopped at step {self.tripped_at} of {total_steps}: {lost}{margin} (tolerance "
                f"{self.settings.tolerance:g}), the classic DPO overshoot (no earlier pass to go "
                "back to); lower learning_rate or raise beta, or set "
                "training.preference.options.guard: warn to train on"
            )
        else:
            note = (
                f"warning: by step {self.tripped_at} {lost}{margin} (tolerance "
                f"{self.settings.tolerance:g}); the adapter may be drifting away from the answers "
                "it was meant to prefer"
            )
        return note
