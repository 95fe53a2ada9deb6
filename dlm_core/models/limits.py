"""How many tokens a base model can attend to, read from its ``config.json``.

Read as plain JSON, so asking costs no model load (and runs no code): a
request that cannot fit, such as ``dlm prompt --max-tokens 999999999``,
is refused before anything is generated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlm_core.errors import DlmError
from dlm_core.models.registry import BaseModelRef

# The keys configs use for their context, most common first; multimodal
# models keep theirs under text_config.
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
_NO_LIMIT = 10_000_000  # some configs state a huge sentinel for "no limit"


def context_length(target: str) -> int | None:
    """The context of the model at ``target`` (a folder, or a hub id in the Hugging Face cache).

    None when the config cannot be found or states none.
    """
    config_path = _config_path(target)
    if config_path is None:
        return None
    try:
        config: Any = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for section in (config, config.get("text_config") if isinstance(config, dict) else None):
        if not isinstance(section, dict):
            continue
        for key in _CONTEXT_KEYS:
            value = section.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < _NO_LIMIT:
                return value
    return None


def check_new_tokens(base: BaseModelRef, target: str, requested: int, flag: str) -> None:
    """Refuse ``requested`` new tokens when the model's context cannot hold them.

    :param target: what ``from_pretrained`` loads for ``base``.
    :param flag: the option the user wrote (``--max-tokens``), for the message.
    """
    limit = context_length(target)
    if limit is not None and requested > limit:
        raise DlmError(
            f"{flag} {requested} is more than {base.spec} can attend to ({limit} tokens of "
            f"context); use at most {limit}"
        )


def _config_path(target: str) -> Path | None:
    folder = Path(target)
    if folder.is_dir():
        path = folder / "config.json"
        return path if path.is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(target, "config.json")
    except Exception:  # an id the hub client rejects is not cached
        return None
    return Path(cached) if isinstance(cached, str) else None
