"""The ``openai`` sampler: candidates from any OpenAI-compatible server.

``--sampler openai`` asks a served model (vLLM, llama.cpp's server, Ollama,
TGI, SGLang, a hosted endpoint) for candidates over ``/v1/chat/completions``.
The settings come from ``--sampler-option KEY=VALUE`` and the environment,
never from the document:

===============  ======================  ==========================================
option           environment             meaning
===============  ======================  ==========================================
base_url         DLM_OPENAI_BASE_URL     the API root, e.g. http://127.0.0.1:8000/v1
model            DLM_OPENAI_MODEL        the served model (default: the only one);
                                         ``{version}`` in it becomes the adapter
                                         version asked for (v0003, or base)
(none)           OPENAI_API_KEY          the key, from the environment only
timeout                                  seconds per request (120)
max_retries                              retries on 408/409/429/5xx (3)
concurrency                              requests in flight (8)
n_per_request                            auto, on or off (auto)
===============  ======================  ==========================================

This module imports neither ``openai`` nor anything heavy; the factory does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import SamplerError, SamplerSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import PluginContext
    from dlm_sampler_openai.sampler import OpenAISampler

__all__ = ["OPTIONS", "dlm_samplers", "make_sampler"]
__version__ = "0.1.0"

FLAG = "--sampler-option"
OPTIONS = ("base_url", "model", "timeout", "max_retries", "concurrency", "n_per_request")
BASE_URL_VARIABLE = "DLM_OPENAI_BASE_URL"
MODEL_VARIABLE = "DLM_OPENAI_MODEL"
KEY_VARIABLE = "OPENAI_API_KEY"


def make_sampler(context: PluginContext) -> OpenAISampler:
    """Build the sampler, after asking the server which models it serves.

    A missing address, a server that is down, a refused key or a model the
    server does not list fail here, before any work, with one line.

    :raises SamplerError: as above, or a malformed option.
    """
    from dlm_sampler_openai import endpoint as ep
    from dlm_sampler_openai.sampler import N_PER_REQUEST, OpenAISampler

    options: dict[str, str] = dict(context.options.get("sampler_options") or {})
    try:
        ep.check_keys(options, OPTIONS, FLAG)
        base_url = ep.setting(options, "base_url", (BASE_URL_VARIABLE,))
        if base_url is None:
            raise ep.SettingsError(
                f"the openai sampler needs a server: pass {FLAG} base_url=http://HOST:PORT/v1 "
                f"or set {BASE_URL_VARIABLE}"
            )
        model = ep.setting(options, "model", (MODEL_VARIABLE,))
        if model is not None:
            model = model.replace("{version}", version_name(context))
        endpoint = ep.Endpoint.from_options(
            options, base_url=base_url, model=model, key_variables=(KEY_VARIABLE,), flag=FLAG
        )
        n_per_request = ep.choice(options, "n_per_request", N_PER_REQUEST, FLAG)
    except ep.SettingsError as error:
        raise SamplerError(str(error)) from None
    try:
        served = ep.served_models(endpoint)
    except Exception as error:
        raise SamplerError(
            f"sampler 'openai': {ep.describe(error, endpoint, endpoint.model)}"
        ) from None
    try:
        model = ep.resolve_model(endpoint, served, MODEL_VARIABLE)
    except ep.SettingsError as error:
        raise SamplerError(f"sampler 'openai': {error}") from None
    return OpenAISampler(
        endpoint,
        model,
        system_prompt=context.system_prompt,
        n_per_request=n_per_request,
        progress=lambda total: context.progress(
            total, desc=f"sampling from {model}", unit="candidate"
        ),
    )


def version_name(context: PluginContext) -> str:
    """The adapter version the command asked for, as its folder is named (``v0003``), or ``base``.

    A server that serves each version under its own name (vLLM's
    ``--lora-modules notes-v0003=...``) is then asked for the right one with
    ``model=notes-{version}``: by ``dlm preference mine`` for the current
    version, by ``dlm compare`` for each side, by ``dlm prompt --version N``.
    """
    return context.adapter_path.name if context.adapter_path is not None else "base"


@hookimpl
def dlm_samplers() -> list[SamplerSpec]:
    return [
        SamplerSpec(
            name="openai",
            factory=make_sampler,
            description="an OpenAI-compatible server (vLLM, llama.cpp, Ollama...): --sampler-option base_url=...",
        )
    ]
