"""The overshoot guard: stop (or warn) when the chosen answers lose likelihood.

The first tests replay step logs shaped like TRL's (``rewards/chosen`` for
DPO, ``logps/chosen`` for ORPO) through the real callback with
transformers' own state and control objects; the last ones run the real
DPO trainer on the tiny base.
"""

from __future__ import annotations

import pytest
from dlm_trainer_trl.dpo import DpoTrainer
from dlm_trainer_trl.guard import ChosenGuard, GuardSettings, dpo_signal, orpo_signal
from dlm_trainer_trl.orpo import OrpoTrainer
from transformers import TrainerControl, TrainerState

from dlm_core.errors import TrainingError

BETA = 0.1
CHOSEN_TOKENS = 10.0


def replay(guard: ChosenGuard, logs: list[dict[str, float]]) -> list[int]:
    """Feed each step's logs to ``guard``; the steps after which training was told to stop."""
    state, stopped = TrainerState(), []
    for step, entry in enumerate(logs, start=1):
        control = TrainerControl()
        state.global_step = step
        guard.on_log(None, state, control, logs={"loss": 0.5, **entry})
        if control.should_training_stop:
            stopped.append(step)
    return stopped


def dpo_logs(per_token_drift: list[float], margin_step: float = 0.5) -> list[dict[str, float]]:
    """DPO step logs whose chosen answers moved by ``per_token_drift`` nats per token."""
    return [
        {
            "rewards/chosen": BETA * CHOSEN_TOKENS * drift,
            "rewards/margins": margin_step * i,
        }
        for i, drift in enumerate(per_token_drift)
    ]


def dpo_guard(mode: str = "stop", tolerance: float = 0.1, window: int = 3) -> ChosenGuard:
    return ChosenGuard(
        signal=dpo_signal(BETA, CHOSEN_TOKENS),
        window=window,
        settings=GuardSettings(mode, tolerance),
    )


def test_dpo_guard_stops_once_a_passs_mean_loses_more_than_the_tolerance() -> None:
    guard = dpo_guard()
    # passes of 3 steps: means -0.02, then -0.12, over the tolerance at the end of step 6
    stopped = replay(guard, dpo_logs([0.0, -0.03, -0.03, -0.1, -0.12, -0.14]))
    assert stopped == [6]
    report = guard.report(total_steps=20)
    assert (report["guard_tripped"], report["guard_step"]) == (1, 6)
    assert report["guard_chosen_drift"] == pytest.approx(-0.12)
    [note] = report["notes"]
    assert note.startswith("stopped at step 6 of 20: the chosen answers lost 0.12 nats/token")
    assert "reward margin went 0.00 -> 2.50" in note


def test_a_stopped_phase_gets_back_the_weights_of_the_last_pass_within_the_tolerance() -> None:
    import torch

    model = torch.nn.Linear(2, 1)
    model.bias.requires_grad_(False)  # frozen weights are neither kept nor put back
    guard, state = dpo_guard(), TrainerState()
    # passes of 3 steps: means -0.02 (within), then -0.12 (over) at the end of step 6
    for step, entry in enumerate(dpo_logs([0.0, -0.03, -0.03, -0.1, -0.12, -0.14]), start=1):
        with torch.no_grad():  # what this step's optimizer update left behind
            model.weight.fill_(float(step))
            model.bias.fill_(float(step))
        state.global_step = step
        guard.on_log(None, state, TrainerControl(), logs={"loss": 0.5, **entry}, model=model)
    assert model.weight.tolist() == [[3.0, 3.0]]  # the end of the first pass
    assert model.bias.tolist() == [6.0]
    report = guard.report(total_steps=20)
    assert (report["guard_step"], report["guard_kept_step"]) == (6, 3)
    assert "kept the adapter as it was at step 3, the end of the last pass" in report["notes"][0]


def test_a_first_pass_that_overshoots_gives_back_the_adapter_the_phase_started_from() -> None:
    import torch

    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
    guard, state = dpo_guard(), TrainerState()
    guard.on_train_begin(None, state, TrainerControl(), model=model)
    # the first pass (3 steps) already averages -0.2 nats/token: over the tolerance
    for step, entry in enumerate(dpo_logs([-0.1, -0.2, -0.3]), start=1):
        with torch.no_grad():
            model.weight.fill_(float(step))
        state.global_step = step
        guard.on_log(None, state, TrainerControl(), logs={"loss": 0.5, **entry}, model=model)
    assert model.weight.tolist() == [[0.0, 0.0]]
    report = guard.report(total_steps=20)
    assert (report["guard_step"], report["guard_kept_step"]) == (3, 0)
    assert "kept the adapter the phase started from" in report["notes"][0]


def test_a_relative_signal_has_no_start_to_go_back_to() -> None:
    import torch

    model = torch.nn.Linear(2, 1)
    guard = ChosenGuard(signal=orpo_signal, window=2, relative=True)
    guard.on_train_begin(None, TrainerState(), TrainerControl(), model=model)
    assert guard.kept is None  # its start is the first pass's mean, known only after it


def test_a_guard_tripped_by_the_last_step_says_so_instead_of_stopped() -> None:
    guard = dpo_guard()
    stopped = replay(guard, dpo_logs([0.0, -0.03, -0.03, -0.1, -0.12, -0.14]))
    assert stopped == [6]
    [note] = guard.report(total_steps=6)["notes"]
    assert note.startswith("warning: by the last step (6) the chosen answers lost 0.12 nats/token")
    assert "stopped" not in note


def test_passes_are_counted_from_the_first_step_not_slid() -> None:
    # The hard batch closes one pass and opens the next: a sliding window would trip.
    guard = dpo_guard(window=2)
    assert replay(guard, dpo_logs([0.05, -0.2, -0.2, 0.05, 0.1, 0.0])) == []


def test_dpo_guard_lets_a_phase_whose_chosen_answers_gain_run_to_the_end() -> None:
    guard = dpo_guard()
    assert replay(guard, dpo_logs([0.0, 0.02, 0.05, 0.04, 0.1, 0.12])) == []
    report = guard.report(total_steps=6)
    assert report == {"guard_tripped": 0, "guard_chosen_drift": pytest.approx(0.0867, abs=1e-3)}


def test_one_bad_batch_inside_the_tolerance_window_does_not_trip_it() -> None:
    guard = dpo_guard()
    assert replay(guard, dpo_logs([0.0, 0.05, -0.3, 0.05, 0.06, 0.05])) == []


def test_warn_mode_trains_on_and_says_from_when() -> None:
    guard = dpo_guard(mode="warn")
    assert replay(guard, dpo_logs([-0.2, -0.2, -0.2, -0.3, -0.4])) == []
    report = guard.report(total_steps=5)
    assert report["guard_step"] == 3
    assert report["notes"][0].startswith(
        "warning: by step 3 the chosen answers lost 0.20 nats/token"
    )


def test_off_mode_watches_nothing_and_reports_nothing() -> None:
    guard = dpo_guard(mode="off")
    assert replay(guard, dpo_logs([-1.0] * 6)) == []
    assert guard.report(total_steps=6) == {}


def test_orpo_guard_measures_against_its_first_pass() -> None:
    guard = ChosenGuard(signal=orpo_signal, window=2, settings=GuardSettings(), relative=True)
    # per-token log-prob of the chosen answers: first pass mean -1.0, then falling
    logs = [{"logps/chosen": v} for v in (-1.0, -1.0, -1.02, -1.06, -1.1, -1.2)]
    assert replay(guard, logs) == [6]  # passes' means: -1.0, -1.04, -1.08, -1.15
    assert guard.report(total_steps=6)["guard_chosen_drift"] == pytest.approx(-0.15)


def test_steps_without_the_signal_are_ignored() -> None:
    guard = dpo_guard(window=1)
    assert replay(guard, [{"grad_norm": 1.0}, {"rewards/chosen": -1.0}]) == [2]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"guard": "sometimes"}, "options.guard must be one of stop, warn, off"),
        ({"guard_tolerance": -0.1}, "guard_tolerance must be a number of nats per token"),
        ({"guard_tolerance": "high"}, "guard_tolerance must be a number of nats per token"),
    ],
)
def test_bad_guard_options_are_clear_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        GuardSettings.from_options(options)


def test_guard_options_are_read_from_the_preference_options() -> None:
    settings = GuardSettings.from_options({"guard": "WARN", "guard_tolerance": 0.3, "gamma": 1})
    assert settings == GuardSettings("warn", 0.3)
    assert GuardSettings.from_options({}) == GuardSettings("stop", 0.1)


def apo_down_job(make_job, preference_rows, recorder, **settings):  # type: ignore[no-untyped-def]
    """A DPO phase that lowers its chosen answers' likelihood on purpose.

    TRL's ``apo_down`` loss pushes both answers down, the rejected one more:
    the overshoot the guard exists for, produced on demand. 4 pairs, batch
    2, 5 passes: 10 steps planned.
    """
    return make_job(
        "dpo",
        "dpo",
        rows=preference_rows,
        on_step=recorder,
        batch_size=2,
        num_epochs=5,
        loss_type="apo_down",
        learning_rate=1e-2,
        **settings,
    )


def test_the_dpo_trainer_stops_a_phase_whose_chosen_answers_lose_likelihood(
    make_job, preference_rows, recorder
) -> None:  # type: ignore[no-untyped-def]
    job = apo_down_job(make_job, preference_rows, recorder)
    result = DpoTrainer().train(job)

    assert result.extra["guard_tripped"] == 1
    assert result.steps == result.extra["guard_step"] == recorder.steps[-1].step < 10
    assert (job.output_dir / "adapter_config.json").exists()
    # The guard's figure: the last pass's chosen rewards, per beta and per chosen token.
    chosen_tokens = sum(len(r.chosen_ids) for r in preference_rows) / len(preference_rows)
    last_pass = [s.extra["rewards/chosen"] for s in recorder.steps[-2:]]
    expected = sum(last_pass) / 2 / (BETA * chosen_tokens)
    assert result.extra["guard_chosen_drift"] == pytest.approx(expected, abs=1e-3)
    assert expected < -0.1
    assert result.extra["notes"][0].startswith(f"stopped at step {result.steps} of 10: ")
    # 4 pairs, batch 2: a pass is 2 steps, and the adapter saved is the one of the pass before.
    assert result.extra["guard_kept_step"] == result.steps - 2
    assert f"kept the adapter as it was at step {result.steps - 2}" in result.extra["notes"][0]


def test_with_the_guard_warning_the_same_phase_trains_on_and_says_so(
    make_job, preference_rows, recorder
) -> None:  # type: ignore[no-untyped-def]
    job = apo_down_job(make_job, preference_rows, recorder, options={"guard": "warn"})
    result = DpoTrainer().train(job)

    assert result.steps == 10
    assert result.extra["guard_tripped"] == 1 and result.extra["guard_step"] < 10
    assert result.extra["notes"][0].startswith("warning: by step ")


def test_an_orpo_phase_reports_its_guard_figures(make_job, preference_rows, recorder) -> None:  # type: ignore[no-untyped-def]
    job = make_job(
        "orpo", "orpo", rows=preference_rows, on_step=recorder, batch_size=2, num_epochs=3
    )
    result = OrpoTrainer().train(job)

    assert result.steps == 6
    first_pass = [s.extra["logps/chosen"] for s in recorder.steps[:2]]
    last_pass = [s.extra["logps/chosen"] for s in recorder.steps[-2:]]
    expected = (sum(last_pass) - sum(first_pass)) / 2
    assert result.extra["guard_chosen_drift"] == pytest.approx(expected, abs=1e-3)
    assert result.extra["guard_tripped"] == int(expected < -0.1)
