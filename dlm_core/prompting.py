"""``dlm prompt``: ask the document's adapter one question.

Generation goes through the sampler protocol (``hf`` by default), so the
answer uses the same chat template and system prompt as mining, and a
faster sampler plugin speeds up both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from dlm_core.context import PluginContext
from dlm_core.document.io import read_document
from dlm_core.errors import StoreError
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store


@attrs.frozen
class PromptOptions:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    version: int | None = None
    base_only: bool = False
    sampler: str = "hf"
    seed: int | None = None
    device: str | None = None


def prompt_document(
    path: Path, query: str, options: PromptOptions, *, home: Path, host: PluginHost, say: Callable[[str], None] = print
) -> str:
    """The adapter's answer to ``query`` (the current version unless one is named)."""
    types = host.section_types()
    document = read_document(path, types)
    adapter = None
    if not options.base_only:
        if document.dlm_id is None or not Store(home, document.dlm_id).exists():
            raise StoreError(f"{path} has not been trained yet; run `dlm train {path}` first (or pass --base)")
        store = Store(home, document.dlm_id)
        version = store.version(options.version) if options.version is not None else store.current()
        if version is None:
            raise StoreError(f"{path} has no adapter version yet; run `dlm train {path}` first")
        adapter = version.path
    frontmatter = document.frontmatter
    context = PluginContext(
        document=document,
        document_path=path,
        base=parse_base(frontmatter.base_model if frontmatter else "smollm2-135m", relative_to=path.parent),
        adapter_path=adapter,
        home=home,
        device=options.device,
        say=say,
    )
    sampler = host.sampler(options.sampler, context)
    answers = sampler.sample(
        [query], 1, temperature=options.temperature, top_p=options.top_p, max_new_tokens=options.max_tokens, seed=options.seed
    )
    return answers[0][0]
