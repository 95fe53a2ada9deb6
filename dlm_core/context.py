"""The context object handed to sampler, judge and trainer factories.

It carries the parsed document, where it lives, the resolved base model, the
current adapter and the command's shared model session (loaded lazily, once).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from dlm_core.document.model import Document
from dlm_core.errors import PluginError
from dlm_core.models.registry import BaseModelRef
from dlm_core.models.session import ModelSession
from dlm_core.progress import ProgressBar, progress_bar


@attrs.define
class PluginContext:
    """What a plugin factory may use.

    :ivar document: the parsed document.
    :ivar document_path: its file, or None for an in-memory document.
    :ivar base: the resolved ``base_model:``.
    :ivar adapter_path: the current adapter version's folder, or None.
    :ivar home: the dlm home folder.
    :ivar options: command options a plugin may honour (``judge_timeout``,
        ``batch_size``...); ``sampler_options`` and ``judge_options`` hold
        the ``--sampler-option`` / ``--judge-option`` ``KEY=VALUE`` pairs as
        ``dict[str, str]``.
    :ivar show_progress: whether long work may draw progress bars; ask
        :meth:`progress` for one rather than importing tqdm.
    """

    document: Document
    document_path: Path | None
    base: BaseModelRef
    adapter_path: Path | None
    home: Path
    device: str | None = None
    options: dict[str, Any] = attrs.Factory(dict)
    say: Callable[[str], None] = print
    _session: ModelSession | None = None
    show_progress: bool = True

    def count_option(self, key: str) -> int | None:
        """``options[key]`` as a whole number of at least 1 (a batch size...), or None when unset.

        :raises PluginError: naming the option, for anything else.
        """
        value = self.options.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PluginError(f"{key} must be a whole number of at least 1, got {value!r}")
        return value

    def progress(self, total: int | None, *, desc: str, unit: str = "it") -> ProgressBar:
        """A progress bar over ``total`` units, or a silent one when bars are off."""
        return progress_bar(total, desc=desc, unit=unit, enabled=self.show_progress)

    @property
    def system_prompt(self) -> str | None:
        fm = self.document.frontmatter
        return fm.system_prompt if fm is not None else None

    @property
    def session(self) -> ModelSession:
        """The shared model session (base + current adapter), built on first use."""
        if self._session is None:
            self._session = ModelSession(
                self.base,
                home=self.home,
                adapter=self.adapter_path,
                device=self.device,
                system_prompt=self.system_prompt,
                precision=self.document.frontmatter.training.precision
                if self.document.frontmatter
                else None,
                say=self.say,
            )
        return self._session
