"""The hook specifications: the public contract between dlm and its plugins.

Each hook collects named specs. A plugin module implements any of them with
``@dlm_core.hookimpl`` and is found through the ``dlm`` entry-point group.
Hooks are called with keyword arguments only and take none today, so a later
argument can be added without breaking an implementation that ignores it.
Every hook collects: all results are kept, none wins by coming first. Factories
inside the specs import heavy libraries only when called, so listing plugins
never imports torch. docs/plugins.md documents each hook under its own heading.
"""

# A hook specification is only a signature and a docstring; pluggy never calls
# its body, so "missing return" does not apply here.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core import hookspec

if TYPE_CHECKING:
    from dlm_core.specs import JudgeSpec, SamplerSpec, SectionTypeSpec, TrainerSpec


@hookspec
def dlm_section_types() -> list[SectionTypeSpec]:
    """Register section types: the ``::name::`` fences a document may use.

    The core registers ``prose``, ``instruction``, ``preference`` and ``eval``
    through this same hook.

    :returns: a list of :class:`~dlm_core.plugins.SectionTypeSpec`; each
        factory is called with no arguments and returns an object that
        satisfies :class:`~dlm_core.document.types.SectionType`. All results
        are collected; a name registered twice is an error naming both plugins.
    """


@hookspec
def dlm_samplers() -> list[SamplerSpec]:
    """Register samplers: what ``dlm preference mine --sampler NAME`` can use.

    :returns: a list of :class:`~dlm_core.plugins.SamplerSpec`; each factory is
        called with one argument, a :class:`~dlm_core.context.PluginContext`,
        and returns an object that satisfies
        :class:`~dlm_core.protocols.Sampler`. All results are collected; a
        name registered twice is an error naming both plugins. The CLI's
        default sampler is ``hf``.
    """


@hookspec
def dlm_judges() -> list[JudgeSpec]:
    """Register judges: what ``--judge NAME[:ARGUMENT]`` can select.

    :returns: a list of :class:`~dlm_core.plugins.JudgeSpec`; each factory is
        called as ``factory(context, argument)``, where ``argument`` is the text
        after the first ``:`` of the selector (``None`` when there is none), and
        returns an object that satisfies :class:`~dlm_core.protocols.Judge`.
        All results are collected; a name registered twice is an error naming
        both plugins. The CLI's default judge is ``sway``.
    """


@hookspec
def dlm_trainers() -> list[TrainerSpec]:
    """Register trainers: ``sft`` and the preference methods (``dpo``, ``orpo``,
    or a plugin's own name picked with ``training.preference.method``).

    :returns: a list of :class:`~dlm_core.plugins.TrainerSpec`; each factory is
        called with one argument, a :class:`~dlm_core.context.PluginContext`,
        and returns an object that satisfies
        :class:`~dlm_core.protocols.Trainer`. All results are collected; a
        name registered twice is an error naming both plugins.
    """
