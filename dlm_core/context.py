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
from dlm_core.models.registry import BaseModelRef
from dlm_core.models.session import ModelSession


@attrs.define
class PluginContext:
    """What a plugin factory may use.

    :ivar document: the parsed document.
    :ivar document_path: its file, or None for an in-memory document.
    :ivar base: the resolved ``base_model:``.
    :ivar adapter_path: the current adapter version's folder, or None.
    :ivar home: the dlm home folder.
    :ivar options: command options a plugin may honour (``judge_timeout``,
        ``batch_size``...).
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
                precision=self.document.frontmatter.training.precision if self.document.frontmatter else None,
                say=self.say,
            )
        return self._session


