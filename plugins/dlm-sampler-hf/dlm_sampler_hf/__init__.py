"""The ``hf`` sampler: candidate answers from transformers ``generate``, batched.

This module only registers the sampler; torch and transformers are imported
by the factory, when a command actually asks for the ``hf`` sampler, so
``dlm --help`` and ``dlm plugins`` stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import SamplerSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import ModelSession, PluginContext
    from dlm_sampler_hf.sampler import HfSampler

__all__ = ["dlm_samplers", "generate_one", "make_sampler"]


def make_sampler(context: PluginContext) -> HfSampler:
    """Build the sampler over the command's shared model session.

    ``context.options["batch_size"]`` (the CLI's ``--batch-size``) caps the
    number of sequences per ``generate`` call; without it the sampler sizes
    batches itself.
    """
    from dlm_sampler_hf.sampler import HfSampler

    return HfSampler(
        context.session, batch_size=context.count_option("batch_size"), progress=context.progress
    )


def generate_one(
    session: ModelSession,
    prompt: str,
    *,
    temperature: float,
    top_p: float | None = None,
    max_new_tokens: int,
    seed: int | None = None,
) -> str:
    """One answer to ``prompt`` (what ``dlm prompt`` prints)."""
    from dlm_sampler_hf.sampler import HfSampler

    [[answer]] = HfSampler(session).sample(
        [prompt],
        1,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    return answer


@hookimpl
def dlm_samplers() -> list[SamplerSpec]:
    return [
        SamplerSpec(
            name="hf",
            factory=make_sampler,
            description="transformers generate on the current adapter, all prompts batched",
        )
    ]
