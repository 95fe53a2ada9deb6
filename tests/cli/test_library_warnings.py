"""Deprecation noise from the ML libraries' internals stays off a user's terminal."""

from __future__ import annotations

import warnings
from pathlib import Path

from dlm_core.cli.main import _quiet_library_deprecations


def load_adapter(base: Path, adapter: Path) -> list[warnings.WarningMessage]:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        before = warnings.filters[:]
        _quiet_library_deprecations(verbose=False)
        assert warnings.filters != before
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
        warnings.warn("a dlm warning stays visible", UserWarning, stacklevel=1)
    return caught


def test_loading_an_adapter_prints_no_library_deprecation(tiny_base: Path, tiny_adapter: Path) -> None:
    caught = load_adapter(tiny_base, tiny_adapter)
    assert not [w for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))]
    assert [str(w.message) for w in caught if w.category is UserWarning] == ["a dlm warning stays visible"]


def test_verbose_keeps_every_warning() -> None:
    with warnings.catch_warnings():
        before = warnings.filters[:]
        _quiet_library_deprecations(verbose=True)
        assert warnings.filters == before
