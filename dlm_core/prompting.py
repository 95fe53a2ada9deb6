"""``dlm prompt``: ask the document's adapter one question.

Generation goes through the sampler protocol (``hf`` by default), so the
answer uses the same chat template and system prompt as mining, and a
faster sampler plugin speeds up both.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.models.limits import check_new_tokens
from dlm_core.models.resolve import resolve_base
from dlm_core.sampling import checked_samples
from dlm_core.specs import DEFAULT_SAMPLER
from dlm_core.workspace import DocumentRun, Workspace


@attrs.frozen
class PromptOptions:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    version: int | None = None
    base_only: bool = False
    sampler: str = DEFAULT_SAMPLER
    sampler_options: dict[str, str] = attrs.Factory(dict)
    seed: int | None = None
    device: str | None = None
    progress: bool = True


def prompt_document(workspace: Workspace, path: Path, query: str, options: PromptOptions) -> str:
    """``dlm prompt``: open the document (it only reads a version: no lock) and ask."""
    with workspace.open(path, lock=False) as run:
        return ask(run, query, options)


def ask(run: DocumentRun, query: str, options: PromptOptions) -> str:
    """The adapter's answer to ``query`` (the current version unless one is named)."""
    adapter = None
    if not options.base_only:
        hint = " (or pass --base)"
        if options.version is not None:
            adapter = run.trained_store(hint).version(options.version)
        else:
            adapter = run.current(hint)
    limit_base = resolve_base(run.base, run.workspace.home, run.say)
    check_new_tokens(run.base, limit_base, options.max_tokens, "--max-tokens")
    context = run.context(
        adapter,
        device=options.device,
        progress=options.progress,
        options={"sampler_options": dict(options.sampler_options)},
    )
    sampler = run.sampler(options.sampler, context)
    answers = checked_samples(
        sampler,
        options.sampler,
        [query],
        1,
        temperature=options.temperature,
        top_p=options.top_p,
        max_new_tokens=options.max_tokens,
        seed=options.seed,
    )
    return answers[0][0]
