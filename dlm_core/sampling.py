"""Calling a sampler and holding it to its contract: n candidates for every prompt.

Mining, ``dlm compare`` and ``dlm prompt`` all generate through here, so a
sampler plugin that breaks the contract gets the same one-line error
wherever it is used, and a plugin's own exception names the plugin.
"""

from __future__ import annotations

from dlm_core.errors import DlmError, SamplerError
from dlm_core.protocols import Sampler


def checked_samples(
    sampler: Sampler,
    name: str,
    prompts: list[str],
    n: int,
    *,
    temperature: float,
    top_p: float | None,
    max_new_tokens: int,
    seed: int | None,
    exact: bool = True,
) -> list[list[str]]:
    """``sampler.sample(...)``, or a :class:`SamplerError` saying what was wrong.

    :param exact: every prompt must get exactly ``n`` candidates (a comparison
        pairs them up); mining takes fewer, and skips a prompt left with too few.
    """
    try:
        sampled = sampler.sample(
            prompts,
            n,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            seed=seed,
        )
    except (DlmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise SamplerError(f"sampler {name!r} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(sampled, list) or len(sampled) != len(prompts):
        count = len(sampled) if isinstance(sampled, list) else type(sampled).__name__
        raise SamplerError(
            f"sampler {name!r} returned {count} candidate lists for {len(prompts)} prompts"
        )
    for candidates in sampled:
        if (
            not isinstance(candidates, list)
            or len(candidates) > n
            or (exact and len(candidates) != n)
        ):
            got = len(candidates) if isinstance(candidates, list) else type(candidates).__name__
            raise SamplerError(f"sampler {name!r} returned {got} candidates for a prompt, not {n}")
        for candidate in candidates:
            if not isinstance(candidate, str):
                raise SamplerError(
                    f"sampler {name!r} returned a {type(candidate).__name__} candidate, not text"
                )
    return sampled
