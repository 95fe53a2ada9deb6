"""Where the OpenAI-compatible server is, and how its failures read.

Settings come from ``--sampler-option KEY=VALUE`` (``context.options
["sampler_options"]``) and the environment, never from the document, which
may come from someone else: a document must not be able to send its prompts,
or a key, to a server of its choosing. The API key is read from the
environment only, so it stays out of shell history and run records.

Every failure of the server becomes one line that names the server and says
what to do: the sampler raises it as :class:`~dlm_core.api.SamplerError`, and
dlm-judge-openai, which depends on this distribution for this module, as a
:class:`~dlm_core.api.JudgeError`. Settings come from ``--judge-option`` there.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import openai

DEFAULT_TIMEOUT = 120.0
"""Seconds one request may take: a long answer from a busy server, not a dead one."""
DEFAULT_MAX_RETRIES = 3
"""Retries on 408, 409, 429, 5xx and lost connections, with the client's exponential
backoff (0.5 s doubling to 8 s, with jitter, honouring ``Retry-After``)."""
DEFAULT_CONCURRENCY = 8
"""Requests in flight at once: enough to keep a batching server (vLLM) busy."""
NO_KEY = "EMPTY"
"""Sent when no key is set: local servers ignore it; the client needs a value."""
MESSAGE_CHARS = 240
"""How much of a server's own error message is quoted."""


class SettingsError(ValueError):
    """A setting that is missing or malformed (the plugin turns it into its DlmError)."""


@attrs.frozen
class Endpoint:
    """One server and how to talk to it.

    :ivar base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
    :ivar model: the model name to ask for, or None to take the only one served.
    :ivar api_key: the bearer key, or None (never shown in ``repr``).
    :ivar key_variable: the environment variable the key is read from (for messages).
    :ivar flag: the command-line flag its settings come from (for messages).
    """

    base_url: str
    model: str | None
    api_key: str | None = attrs.field(repr=False)
    key_variable: str
    flag: str
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, str],
        *,
        base_url: str,
        model: str | None,
        key_variables: tuple[str, ...],
        flag: str,
    ) -> Endpoint:
        """The endpoint with the request settings every plugin on it reads from ``options``.

        ``timeout``, ``max_retries`` and ``concurrency`` mean the same to the
        sampler and the judge, so they are read, and refused, in one place. The
        key comes from the first of ``key_variables`` that is set.

        :raises SettingsError: a malformed setting.
        """
        return cls(
            base_url=base_url,
            model=model,
            api_key=variable(*key_variables),
            key_variable=" or ".join(key_variables),
            flag=flag,
            timeout=positive_number(options, "timeout", DEFAULT_TIMEOUT, flag),
            max_retries=whole_number(options, "max_retries", DEFAULT_MAX_RETRIES, flag, minimum=0),
            concurrency=whole_number(options, "concurrency", DEFAULT_CONCURRENCY, flag, minimum=1),
        )

    def client(self, *, max_retries: int | None = None) -> openai.OpenAI:
        """An ``openai.OpenAI`` client for this server (the import happens here)."""
        import openai

        return openai.OpenAI(
            base_url=self.base_url,
            api_key=self.api_key or NO_KEY,
            timeout=self.timeout,
            max_retries=self.max_retries if max_retries is None else max_retries,
        )


def setting(options: Mapping[str, str], key: str, variables: tuple[str, ...] = ()) -> str | None:
    """The option ``key``, else the first of ``variables`` that is set and not empty."""
    value = options.get(key)
    if value is not None and value.strip():
        return value.strip()
    return variable(*variables)


def variable(*names: str) -> str | None:
    """The first of the environment variables ``names`` that is set and not empty."""
    for name in names:
        found = os.environ.get(name, "").strip()
        if found:
            return found
    return None


def check_keys(options: Mapping[str, str], known: tuple[str, ...], flag: str) -> None:
    """Refuse options nobody reads (a typo would otherwise be silently ignored)."""
    if "api_key" in options:
        raise SettingsError(
            f"{flag} api_key=... is not accepted: a key on the command line ends up in shell "
            "history; set it in the environment instead"
        )
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise SettingsError(
            f"unknown {flag} {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def positive_number(options: Mapping[str, str], key: str, default: float, flag: str) -> float:
    text = options.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{flag} {key}={text}: expected a positive number")
    return value


def whole_number(
    options: Mapping[str, str], key: str, default: int, flag: str, *, minimum: int
) -> int:
    text = options.get(key)
    if text is None:
        return default
    if not re.fullmatch(r"\s*\d+\s*", text) or int(text) < minimum:
        raise SettingsError(f"{flag} {key}={text}: expected a whole number of at least {minimum}")
    return int(text)


def choice(options: Mapping[str, str], key: str, allowed: tuple[str, ...], flag: str) -> str:
    """One of ``allowed`` (the first is the default)."""
    value = options.get(key, allowed[0]).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{flag} {key}={value}: expected one of {', '.join(allowed)}")
    return value


def served_models(endpoint: Endpoint) -> list[str] | None:
    """The model names the server lists at ``/models``, or None if it has no such route.

    Asked once, without retries, before any work: a server that is down, a
    wrong address or a refused key fail here, at once, with one line.
    """
    import openai

    try:
        return [model.id for model in endpoint.client(max_retries=0).models.list()]
    except openai.NotFoundError:
        return None


def resolve_model(endpoint: Endpoint, served: list[str] | None, variable: str) -> str:
    """The model to ask for: the one named (if the server serves it), else the only one served."""
    where = f"the server at {endpoint.base_url}"
    if endpoint.model is not None:
        if served is not None and endpoint.model not in served:
            raise SettingsError(
                f"{where} does not serve model {endpoint.model!r}; it serves: "
                f"{', '.join(served) or 'nothing'}"
            )
        return endpoint.model
    if served is not None and len(served) == 1:
        return served[0]
    listed = f"; it serves: {', '.join(served)}" if served else ""
    raise SettingsError(
        f"which model of {where}? pass {endpoint.flag} model=NAME or set {variable}{listed}"
    )


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def root_cause(error: BaseException) -> str:
    """The innermost cause's message ("[Errno 111] Connection refused"), for connection errors."""
    seen: set[int] = set()
    while (error.__cause__ or error.__context__) is not None and id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return one_line(str(error) or type(error).__name__, 120)


def _server_message(error: openai.APIStatusError) -> str:
    body: Any = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message is None and isinstance(inner, dict):
            message = inner.get("detail")
        if message is not None:
            return one_line(str(message))
    return one_line(error.message)


def describe(error: Exception, endpoint: Endpoint, model: str | None) -> str:
    """One line for a failed request: what the server did and what to do about it."""
    import openai

    where = f"the server at {endpoint.base_url}"
    retries = f"after {endpoint.max_retries} retries" if endpoint.max_retries else "with no retries"
    if isinstance(error, openai.APITimeoutError):
        return (
            f"{where} did not answer within {endpoint.timeout:g} s ({retries}); "
            f"raise {endpoint.flag} timeout=SECONDS or lower concurrency="
        )
    if isinstance(error, openai.APIConnectionError):
        return (
            f"cannot reach {where} ({root_cause(error)}); start the server, or point "
            f"{endpoint.flag} base_url=... at it"
        )
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return (
            f"{where} refused the API key ({error.status_code}: {_server_message(error)}); "
            f"set {endpoint.key_variable}"
        )
    if isinstance(error, openai.NotFoundError):
        return (
            f"{where} answered 404 for model {model!r} ({_server_message(error)}); check the "
            "model name and that the base URL ends in /v1"
        )
    if isinstance(error, openai.RateLimitError):
        return (
            f"{where} is still rate limiting {retries} ({_server_message(error)}); lower "
            f"{endpoint.flag} concurrency= or try later"
        )
    if isinstance(error, openai.InternalServerError):
        return f"{where} failed with {error.status_code} {retries}: {_server_message(error)}"
    if isinstance(error, openai.APIStatusError):
        return f"{where} refused the request ({error.status_code}: {_server_message(error)})"
    return f"{where}: {type(error).__name__}: {one_line(str(error))}"
