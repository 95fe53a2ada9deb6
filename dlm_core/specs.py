"""What a plugin hands back from a registration hook: a name, a factory, a description.

Third parties import these as ``dlm_core.plugins.XSpec``; they live here so that
the hook specs and the built-in section types can name them without importing
the plugin host that discovers them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

import attrs

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

DEFAULT_SAMPLER = "hf"
"""The sampler a command uses when none is named (``--sampler``)."""

DEFAULT_JUDGE = "sway"
"""The judge ``dlm preference mine`` and ``dlm compare`` use when none is named (``--judge``)."""


def _check_name(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"{type(instance).__name__} name {value!r} must be lowercase letters, digits, '-', '_' or '.'"
        )


@attrs.frozen(kw_only=True)
class Spec:
    """What every spec has; the subclasses say which hook returns it and how it is named."""

    name: str = attrs.field(validator=_check_name)
    factory: Callable[..., Any]
    description: str = ""

    kind: ClassVar[str]
    hook: ClassVar[str]
    package_prefix: ClassVar[str]


@attrs.frozen(kw_only=True)
class SectionTypeSpec(Spec):
    """A section type; ``factory()`` returns a :class:`~dlm_core.document.types.SectionType`."""

    kind: ClassVar[str] = "section type"
    hook: ClassVar[str] = "dlm_section_types"
    package_prefix: ClassVar[str] = "dlm-section-"


@attrs.frozen(kw_only=True)
class SamplerSpec(Spec):
    """A sampler; ``factory(context)`` returns a :class:`~dlm_core.protocols.Sampler`."""

    kind: ClassVar[str] = "sampler"
    hook: ClassVar[str] = "dlm_samplers"
    package_prefix: ClassVar[str] = "dlm-sampler-"


@attrs.frozen(kw_only=True)
class JudgeSpec(Spec):
    """A judge; ``factory(context, argument)`` returns a :class:`~dlm_core.protocols.Judge`."""

    kind: ClassVar[str] = "judge"
    hook: ClassVar[str] = "dlm_judges"
    package_prefix: ClassVar[str] = "dlm-judge-"


@attrs.frozen(kw_only=True)
class TrainerSpec(Spec):
    """A trainer; ``factory(context)`` returns a :class:`~dlm_core.protocols.Trainer`."""

    kind: ClassVar[str] = "trainer"
    hook: ClassVar[str] = "dlm_trainers"
    package_prefix: ClassVar[str] = "dlm-trainer-"


SPEC_TYPES: tuple[type[Spec], ...] = (SectionTypeSpec, SamplerSpec, JudgeSpec, TrainerSpec)
