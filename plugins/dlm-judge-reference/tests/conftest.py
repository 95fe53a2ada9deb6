"""Fixtures for the reference judge's tests: a host, and contexts over documents with answers.

``tiny_base`` (from dlm_core.testing) is a random-weight two-layer Llama with
SmolLM2's tokenizer: right for checking what is computed. ``default_base`` is
the real SmolLM2-135M-Instruct: right for checking that agreeing answers win.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dlm_core.api import PluginContext
from dlm_core.document.parser import parse
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost

CODE_REVIEW = """---
system_prompt: You are concise.
---
# Code review guidelines

A review takes within one working day of the request. No change merges
without one approving review. Comments are about the code, never about the
author.

::instruction::
### Q
How long should a code review take?
### A
Within one working day of the request.

### Q
Can a change merge without a review?
### A
No. Every change needs one approving review.

### Q
Should a review comment mention the author?
### A
No. Comments are about the code, never about the author.

::instruction::
### Q
How long should a code review take?
### A
A working day at most.

::eval::
### Q
A reviewer is away until next week. What should they do?
"""

ContextFactory = Callable[..., PluginContext]


@pytest.fixture
def host() -> PluginHost:
    """A fresh host with only the built-ins and this distribution's judge."""
    import dlm_judge_reference

    host = PluginHost.with_builtins()
    host.register(dlm_judge_reference, "test-judge-reference")
    return host


@pytest.fixture
def reference_context(tmp_path: Path) -> ContextFactory:
    """``make(base, adapter=None, text=CODE_REVIEW, **options)``: a judge factory's context."""

    def make(
        base: Path, adapter: Path | None = None, text: str = CODE_REVIEW, **options: object
    ) -> PluginContext:
        return PluginContext(
            document=parse(text),
            document_path=None,
            base=parse_base(f"hf:{base}"),
            adapter_path=adapter,
            home=tmp_path,
            options=dict(options),
        )

    return make
