"""Deprecation noise from the ML libraries' internals stays off a user's terminal."""

from __future__ import annotations

import warnings
from pathlib import Path

from dlm_core.cli.main import _quiet_library_deprecations


def warnings_while_loading(
    base: Path, adapter: Path, *, quiet: bool
) -> list[warnings.WarningMessage]:
    """Every warning raised while loading a real PEFT adapter, with or without dlm's filter."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if quiet:
            _quiet_library_deprecations(verbose=False)
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
        warnings.warn("a dlm warning stays visible", UserWarning, stacklevel=1)
    return caught


def deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, (FutureWarning, DeprecationWarning))
    ]


def test_loading_an_adapter_prints_no_library_deprecation(
    tiny_base: Path, tiny_adapter: Path
) -> None:
    # The pinned transformers warns from inside PEFT's loading (is_gradient_checkpointing)...
    assert deprecations(warnings_while_loading(tiny_base, tiny_adapter, quiet=False))
    # ...and the CLI's filter hides that, but not dlm's own warnings.
    caught = warnings_while_loading(tiny_base, tiny_adapter, quiet=True)
    assert deprecations(caught) == []
    assert [str(w.message) for w in caught if w.category is UserWarning] == [
        "a dlm warning stays visible"
    ]


def test_verbose_keeps_every_warning() -> None:
    with warnings.catch_warnings():
        before = warnings.filters[:]
        _quiet_library_deprecations(verbose=True)
        assert warnings.filters == before
