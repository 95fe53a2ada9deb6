"""The ``llamacpp`` sampler: candidate answers from llama.cpp, all prompts as parallel sequences.

This module only registers the sampler; llama.cpp is loaded by the factory,
when a command asks for ``--sampler llamacpp``, so ``dlm --help`` and
``dlm plugins`` stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import SamplerSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import PluginContext
    from dlm_sampler_llamacpp.sampler import LlamaCppSampler

__all__ = ["dlm_samplers", "make_sampler"]


def make_sampler(context: PluginContext) -> LlamaCppSampler:
    """Build the sampler over the context's current adapter (converted to GGUF once per version).

    ``context.options["batch_size"]`` (``--batch-size``) caps the sequences
    decoded together; ``context.options["threads"]``, else
    ``$DLM_LLAMACPP_THREADS``, sets llama.cpp's CPU threads (default: every
    core the process may use).
    """
    import os

    from dlm_sampler_llamacpp.sampler import LlamaCppSampler

    threads = context.options.get("threads") or os.environ.get("DLM_LLAMACPP_THREADS")
    return LlamaCppSampler(
        context,
        max_sequences=context.options.get("batch_size"),
        threads=int(threads) if threads else None,
    )


@hookimpl
def dlm_samplers() -> list[SamplerSpec]:
    return [
        SamplerSpec(
            name="llamacpp",
            factory=make_sampler,
            description="llama.cpp on the current adapter (GGUF, cached per version), prompts as parallel sequences",
        )
    ]
