"""SimPO's settings: beta from the hyper-parameters, gamma and the NLL weight from the options."""

from __future__ import annotations

from typing import Any

import pytest
from dlm_trainer_simpo.settings import SimpoSettings, simpo_settings

from dlm_core.errors import TrainingError
from dlm_core.protocols import TrainSettings


def settings(beta: float = 2.0, **options: Any) -> TrainSettings:
    return TrainSettings(learning_rate=1e-4, num_epochs=1, beta=beta, options=options)


def test_gamma_is_the_ratio_times_beta() -> None:
    assert simpo_settings(settings(2.5, gamma_beta_ratio=0.4)) == SimpoSettings(
        beta=2.5, gamma=1.0, sft_weight=0.0
    )


def test_without_options_gamma_is_half_of_beta() -> None:
    assert simpo_settings(settings(2.0)).gamma == 1.0


def test_gamma_may_be_given_directly() -> None:
    assert simpo_settings(settings(10.0, gamma=3)).gamma == 3.0


def test_sft_weight_adds_the_nll_term() -> None:
    assert simpo_settings(settings(sft_weight=0.2)).sft_weight == 0.2


def test_a_number_yaml_left_as_text_is_read_as_a_number() -> None:
    # PyYAML reads `gamma: 1e-3` (no dot) as the string "1e-3".
    assert simpo_settings(settings(gamma="1e-3")).gamma == pytest.approx(1e-3)


@pytest.mark.parametrize("value", ["lots", True, None, [0.5], -0.5, float("nan"), "inf"])
def test_a_bad_gamma_beta_ratio_names_the_option_and_what_it_must_be(value: Any) -> None:
    with pytest.raises(
        TrainingError,
        match=r"training\.preference\.options\.gamma_beta_ratio must be a number of at least 0",
    ):
        simpo_settings(settings(gamma_beta_ratio=value))


def test_gamma_and_its_ratio_together_are_refused() -> None:
    with pytest.raises(TrainingError, match=r"options\.gamma or .*gamma_beta_ratio, not both"):
        simpo_settings(settings(gamma=1.0, gamma_beta_ratio=0.5))


def test_an_unknown_option_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        TrainingError,
        match="'gama', which the simpo trainer does not read; it reads gamma_beta_ratio, gamma, sft_weight",
    ):
        simpo_settings(settings(gama=1.0))


def test_beta_zero_is_refused() -> None:
    with pytest.raises(TrainingError, match="beta above 0"):
        simpo_settings(settings(beta=0.0))
