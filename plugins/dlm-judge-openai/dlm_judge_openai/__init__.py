"""The ``openai`` judge: a model behind an OpenAI-compatible endpoint grades candidates.

``--judge openai:<model>`` asks ``<model>`` on the server (vLLM, llama.cpp's
server, Ollama, TGI, SGLang, a hosted endpoint) to score each candidate
with a rubric and a JSON reply (:mod:`dlm_judge_openai.judge`). Settings
come from ``--judge-option KEY=VALUE`` and the environment, never from the
document:

=================  ==============================================  ===========================
option             environment                                     meaning
=================  ==============================================  ===========================
base_url           DLM_OPENAI_JUDGE_BASE_URL, DLM_OPENAI_BASE_URL  the API root (.../v1)
(none)             DLM_OPENAI_JUDGE_API_KEY, OPENAI_API_KEY        the key, environment only
rubric                                                             a rubric file (default: built in)
mode                                                               pointwise or pairwise
response_format                                                    auto, json_schema, json_object, none
max_tokens                                                         reply budget (256)
temperature                                                        0 by default
timeout                                                            seconds per request (120)
max_retries                                                        retries on 429/5xx (3)
concurrency                                                        requests in flight (8)
=================  ==============================================  ===========================

This module imports neither ``openai`` nor anything heavy; the factory does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dlm_core.api import JudgeError, JudgeSpec, hookimpl

if TYPE_CHECKING:
    from dlm_sampler_openai.endpoint import Endpoint

    from dlm_core.api import PluginContext
    from dlm_judge_openai.judge import OpenAIJudge
    from dlm_judge_openai.rubric import Rubric

__all__ = ["OPTIONS", "dlm_judges", "make_judge"]
__version__ = "0.1.0"

FLAG = "--judge-option"
OPTIONS = (
    "base_url",
    "rubric",
    "mode",
    "response_format",
    "max_tokens",
    "temperature",
    "timeout",
    "max_retries",
    "concurrency",
)
BASE_URL_VARIABLES = ("DLM_OPENAI_JUDGE_BASE_URL", "DLM_OPENAI_BASE_URL")
KEY_VARIABLES = ("DLM_OPENAI_JUDGE_API_KEY", "OPENAI_API_KEY")


def make_judge(context: PluginContext, argument: str | None) -> OpenAIJudge:
    """Build the judge for ``--judge openai:<model>``, after checking the server serves it.

    A missing model or address, a rubric file that cannot be used, a server
    that is down, a refused key or a model the server does not list fail
    here, before any sampling, with one line.

    :raises JudgeError: as above, or a malformed option.
    """
    from dlm_sampler_openai import endpoint as ep

    from dlm_judge_openai.judge import RESPONSE_FORMATS, OpenAIJudge
    from dlm_judge_openai.rubric import RubricError

    model = _model_name(argument)
    options: dict[str, str] = dict(context.options.get("judge_options") or {})
    try:
        ep.check_keys(options, OPTIONS, FLAG)
        endpoint = _endpoint(options, model)
        mode = ep.choice(options, "mode", ("pointwise", "pairwise"), FLAG)
        response_format = ep.choice(options, "response_format", RESPONSE_FORMATS, FLAG)
        max_tokens = ep.whole_number(options, "max_tokens", 256, FLAG, minimum=1)
        temperature = 0.0 if "temperature" not in options else _temperature(options["temperature"])
        rubric = _rubric(options.get("rubric"), mode)
    except (ep.SettingsError, RubricError) as error:
        raise JudgeError(str(error)) from None
    _check_served(endpoint, model)
    return OpenAIJudge(
        endpoint,
        model,
        rubric,
        system_prompt=context.system_prompt,
        response_format=response_format,
        max_tokens=max_tokens,
        temperature=temperature,
    )


def _model_name(argument: str | None) -> str:
    """The ``<model>`` of ``--judge openai:<model>``: there is no default worth guessing."""
    model = (argument or "").strip()
    if not model:
        raise JudgeError(
            "judge 'openai' needs a model: use --judge openai:<model>, e.g. --judge openai:qwen2.5-7b-instruct"
        )
    return model


def _endpoint(options: dict[str, str], model: str) -> Endpoint:
    """The judge's server, from ``--judge-option`` and the judge's own environment variables first.

    :raises SettingsError: no server named, or a malformed setting.
    """
    from dlm_sampler_openai import endpoint as ep

    base_url = ep.setting(options, "base_url", BASE_URL_VARIABLES)
    if base_url is None:
        raise ep.SettingsError(
            f"judge 'openai:{model}' needs a server: pass {FLAG} base_url=http://HOST:PORT/v1 "
            f"or set {' or '.join(BASE_URL_VARIABLES)}"
        )
    return ep.Endpoint.from_options(
        options, base_url=base_url, model=model, key_variables=KEY_VARIABLES, flag=FLAG
    )


def _rubric(path: str | None, mode: str) -> Rubric:
    """The rubric file given, else the built-in rubric for ``mode``."""
    from dlm_judge_openai.rubric import default_rubric, rubric_from_file

    if path:
        return rubric_from_file(Path(path).expanduser(), mode)  # type: ignore[arg-type]
    return default_rubric(mode)  # type: ignore[arg-type]


def _check_served(endpoint: Endpoint, model: str) -> None:
    """Ask the server once, before any sampling, so a wrong address, key or model fails first."""
    from dlm_sampler_openai import endpoint as ep

    try:
        ep.resolve_model(endpoint, ep.served_models(endpoint), "")
    except ep.SettingsError as error:
        raise JudgeError(f"judge 'openai:{model}': {error}") from None
    except Exception as error:
        raise JudgeError(f"judge 'openai:{model}': {ep.describe(error, endpoint, model)}") from None


def _temperature(text: str) -> float:
    from dlm_sampler_openai.endpoint import SettingsError

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 2:
        raise SettingsError(f"{FLAG} temperature={text}: expected a number from 0 to 2")
    return value


@hookimpl
def dlm_judges() -> list[JudgeSpec]:
    return [
        JudgeSpec(
            name="openai",
            factory=make_judge,
            description="an LLM judge on an OpenAI-compatible server, rubric + JSON reply: --judge openai:<model>",
        )
    ]
