"""Option types that refuse, while the command line is read, values that cannot work.

click's ``FloatRange`` lets ``nan`` through (every comparison with it is
false), and a plain ``int`` seed can be larger than numpy's generator
takes; either would fail only after a model has loaded, or never (a NaN
threshold passes every pair). These types make them usage errors.
"""

from __future__ import annotations

import math
from typing import Any

import click

from dlm_core.document.frontmatter import MAX_SEED


class FiniteFloatRange(click.FloatRange):
    """A ``FloatRange`` that also refuses ``nan`` and ``inf``."""

    name = "float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class FiniteFloat(click.types.FloatParamType):
    """Any finite number."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


FINITE = FiniteFloat()
"""Any finite number (``--threshold``)."""

SEED = click.IntRange(0, MAX_SEED)
"""A seed every library takes: 0 to 2**32 - 1."""
