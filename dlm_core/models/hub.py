"""The Hugging Face hub, as dlm uses it: offline or not, local folder or hub id, cached or not.

Every place that loads a model by name (the base model, a reward model, an
exporter) asks these questions the same way, so ``HF_HUB_OFFLINE`` means
one thing everywhere and a missing model fails fast with one line, instead
of the hub client's minute of retries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TRUE_VALUES = {"1", "on", "true", "yes"}
"""What huggingface_hub takes as "set" for its boolean environment variables."""


def hub_offline(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids reaching the hub."""
    value = (environ if environ is not None else os.environ).get("HF_HUB_OFFLINE", "")
    return value.strip().lower() in TRUE_VALUES


def looks_local(target: str, *, relative_to: Path | None = None) -> bool:
    """Whether ``target`` names a folder on disk rather than a hub id.

    A path written as one (``./m``, ``/m``, ``~/m``) is local even if it does
    not exist yet, so the error can say "no such folder"; a bare name is
    local only when such a folder exists.
    """
    if target.startswith((".", "/", "~")):
        return True
    candidate = Path(target).expanduser()
    if not candidate.is_absolute() and relative_to is not None:
        candidate = relative_to / candidate
    return candidate.is_dir()


def why_unavailable(model_id: str) -> str | None:
    """None when ``model_id`` can be loaded (cached, or known to a reachable hub); else why not.

    Nothing is downloaded: the cache is looked up, and the hub is asked at most once.
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # an id the hub client rejects (bad characters...) is not cached
        cached = None
    if isinstance(cached, str):
        return None
    if hub_offline():
        return "HF_HUB_OFFLINE is set"
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None).model_info(model_id, timeout=10)
        return None
    except GatedRepoError:
        return None  # it exists; from_pretrained says what access it needs
    except RepositoryNotFoundError:
        return "the hub has no model by that name (or it is private and you are not logged in)"
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"the hub did not answer ({first})"
