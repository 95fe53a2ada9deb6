"""``num_epochs: auto`` and the preference learning rate: what a document that writes nothing gets.

The rule counts optimizer steps: enough whole passes over the rows for the
phase's minimum number of steps, at least its floor of passes and never
more than its cap. Values a document writes are used exactly as written.
"""

from __future__ import annotations

import pytest

from dlm_core.document.frontmatter import load_frontmatter
from dlm_core.training.schedule import (
    PREFERENCE_RULE,
    SFT_RULE,
    StepRule,
    few_steps_note,
    plan_steps,
)
from dlm_core.training.settings import (
    PREFERENCE_LEARNING_RATE,
    PREFERENCE_LEARNING_RATES,
    preference_settings,
    sft_settings,
    step_plan,
)

RULE = StepRule(min_steps=20, min_epochs=1, max_epochs=10)


@pytest.mark.parametrize(
    ("rows", "per_step", "epochs", "steps"),
    [
        (10, 4, 7, 21),  # 3 steps a pass: 7 passes reach 20
        (40, 4, 2, 20),  # 10 steps a pass
        (4, 4, 10, 10),  # one step a pass: the cap of 10 passes stops it at 10 steps
        (1000, 4, 1, 250),  # one pass already makes far more than 20 steps
    ],
)
def test_auto_runs_whole_passes_until_the_minimum_steps_within_the_cap(
    rows: int, per_step: int, epochs: int, steps: int
) -> None:
    plan = plan_steps("auto", rows=rows, rows_per_step=per_step, rule=RULE)
    assert (plan.epochs, plan.steps, plan.auto) == (epochs, steps, True)


def test_auto_never_runs_fewer_passes_than_the_rules_floor() -> None:
    rule = StepRule(min_steps=20, min_epochs=3, max_epochs=10)
    plan = plan_steps("auto", rows=1000, rows_per_step=8, rule=rule)
    assert (plan.epochs, plan.steps) == (3, 375)


def test_a_written_number_of_epochs_is_used_as_written() -> None:
    plan = plan_steps(1, rows=10, rows_per_step=4, rule=RULE)
    assert (plan.epochs, plan.steps, plan.auto) == (1, 3, False)
    assert plan_steps(50, rows=1, rows_per_step=4, rule=RULE).epochs == 50  # beyond auto's cap


def test_max_steps_ends_the_phase_whatever_the_passes() -> None:
    plan = plan_steps("auto", rows=10, rows_per_step=4, rule=RULE, max_steps=5)
    assert (plan.epochs, plan.steps) == (7, 5)


def test_processes_and_accumulation_count_toward_a_step() -> None:
    training = load_frontmatter("training: {micro_batch_size: 2, grad_accum: 2}").training
    one = step_plan(training, "preference", rows=40)
    two = step_plan(training, "preference", rows=40, processes=2)
    assert (one.steps_per_epoch, two.steps_per_epoch) == (10, 5)
    assert one.steps >= PREFERENCE_RULE.min_steps and two.steps >= PREFERENCE_RULE.min_steps


def test_a_document_without_settings_gets_auto_in_both_phases() -> None:
    training = load_frontmatter("base_model: smollm2-135m").training
    sft = step_plan(training, "sft", rows=11)  # the support-replies document: 2 batches of 8
    pref = step_plan(training, "preference", rows=10)  # 10 mined pairs: 3 batches of 4
    assert sft.auto and sft.steps >= SFT_RULE.min_steps
    assert pref.auto and pref.steps >= PREFERENCE_RULE.min_steps
    assert sft_settings(training, sft).num_epochs == sft.epochs
    assert preference_settings(training, pref).num_epochs == pref.epochs


def test_an_unwritten_preference_learning_rate_takes_the_methods_lora_default() -> None:
    for method in ("dpo", "orpo", "simpo"):
        training = load_frontmatter(f"training: {{preference: {{method: {method}}}}}").training
        settings = preference_settings(training, step_plan(training, "preference", rows=10))
        expected = PREFERENCE_LEARNING_RATES.get(method, PREFERENCE_LEARNING_RATE)
        assert settings.learning_rate == expected


def test_an_unwritten_loss_adds_the_chosen_answers_lm_loss_and_a_written_one_is_kept() -> None:
    unwritten = load_frontmatter("training: {}").training
    written = load_frontmatter("training: {preference: {loss_type: sigmoid}}").training
    assert [
        preference_settings(t, step_plan(t, "preference", rows=10)).loss_type
        for t in (unwritten, written)
    ] == ["sigmoid,sft", "sigmoid"]


def test_upstream_documents_5e_6_is_honoured_exactly() -> None:
    training = load_frontmatter(
        "training:\n  preference:\n    hyperparams: {learning_rate: 5e-6, num_epochs: 1}\n"
    ).training
    plan = step_plan(training, "preference", rows=10)
    settings = preference_settings(training, plan)
    assert (settings.learning_rate, settings.num_epochs, plan.steps) == (5e-6, 1, 3)


def test_written_sft_settings_are_honoured_exactly() -> None:
    training = load_frontmatter("training: {learning_rate: 2.0e-4, num_epochs: 3}").training
    settings = sft_settings(training, step_plan(training, "sft", rows=11))
    assert (settings.learning_rate, settings.num_epochs) == (2e-4, 3)


def test_few_steps_as_written_draw_a_note_naming_the_key_and_auto() -> None:
    plan = plan_steps(1, rows=10, rows_per_step=4, rule=PREFERENCE_RULE)
    note = few_steps_note("preference", plan, rows=10, batch_size=4)
    assert note is not None
    assert "only 3 optimizer step(s)" in note
    assert "training.preference.hyperparams.num_epochs" in note and "auto" in note


def test_auto_and_max_steps_draw_no_note() -> None:
    auto = plan_steps("auto", rows=1, rows_per_step=8, rule=SFT_RULE)  # capped: few rows
    assert auto.steps < SFT_RULE.min_steps
    assert few_steps_note("sft", auto, rows=1, batch_size=8) is None
    short = plan_steps(1, rows=10, rows_per_step=4, rule=PREFERENCE_RULE, max_steps=2)
    assert few_steps_note("preference", short, rows=10, batch_size=4) is None


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("training: {num_epochs: 0}", "training.num_epochs must be 'auto' or a positive"),
        ("training: {num_epochs: Auto}", "expected 'auto' or a whole number"),
        (
            "training: {preference: {hyperparams: {num_epochs: 2.5}}}",
            "training.preference.hyperparams.num_epochs: expected 'auto' or a whole number",
        ),
        (
            "training: {preference: {hyperparams: {learning_rate: 0}}}",
            "training.preference.hyperparams.learning_rate must be greater than 0",
        ),
    ],
)
def test_bad_values_are_errors_at_their_key(yaml_text: str, message: str) -> None:
    from dlm_core.document.frontmatter import FrontmatterInvalid

    with pytest.raises(FrontmatterInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_frontmatter(yaml_text)
