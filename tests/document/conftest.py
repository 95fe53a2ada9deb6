"""Hypothesis profiles for the document tests.

``dev`` (200 examples) is the default on a workstation; ``ci`` (1000
examples) is the default when ``CI`` is set. ``HYPOTHESIS_PROFILE`` picks
one explicitly. Deadlines are off: a generated document can be large, and
the properties are about bytes, not speed.
"""

from __future__ import annotations

import os

from hypothesis import settings

_COMMON = {"deadline": None}

settings.register_profile("dev", max_examples=200, **_COMMON)
settings.register_profile("ci", max_examples=1000, **_COMMON)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
