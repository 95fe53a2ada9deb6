"""Candidate answers from an OpenAI-compatible ``/chat/completions`` endpoint.

How the work is laid out, and why:

- Each prompt becomes the messages a chat model expects: the document's
  system prompt (when it has one) and the prompt as the user turn. The
  server applies its own chat template.
- ``n`` candidates of a prompt are asked for in one request (``n=``) where
  the server honours it. A server that answers with fewer choices than asked
  (llama.cpp's server ignores ``n``) gets the rest as separate requests, and
  is then sent one request per candidate for the rest of the run.
- Requests run concurrently, at most ``concurrency`` at a time; the client
  retries 408/409/429/5xx and lost connections with exponential backoff.
  The first request that still fails stops the call with one
  :class:`~dlm_core.api.SamplerError` line, and nothing of the call is returned.
- ``seed`` is passed through. Requests that carry one candidate get a seed
  of their own, derived from the seed, the prompt and the candidate's
  number, so the candidates of a prompt differ and are reproducible where
  the server is.
- Temperature 0 is greedy: one request per prompt, its answer repeated ``n`` times.
- ``finish_reason == "length"`` marks a candidate as truncated, and
  ``usage.completion_tokens`` counts generated tokens.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

import attrs

from dlm_core.api import Sample, SamplerError, check_sample_arguments, normalize_text
from dlm_sampler_openai.endpoint import Endpoint, describe

if TYPE_CHECKING:
    from collections.abc import Callable

    import openai

    from dlm_core.api import ProgressBar

N_PER_REQUEST = ("auto", "on", "off")
"""``auto``: ask for ``n`` choices per request until the server shows it ignores ``n``."""


def request_seed(seed: int, prompt: str, sample: int) -> int:
    """The seed of the request that starts at candidate ``sample`` of ``prompt`` (31 bits)."""
    digest = hashlib.sha256(f"{seed}\x00{sample}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@attrs.frozen
class _Request:
    prompt_index: int
    first: int  # the number of its first candidate in the prompt's list
    count: int  # candidates asked for (n)


@attrs.define
class _Call:
    """One call of :meth:`OpenAISampler.sample`: what it asks, and what has come back so far."""

    prompts: list[str]
    settings: dict[str, Any]  # temperature, max_tokens and top_p, sent with every request
    seed: int | None
    total: int  # candidates the call needs
    found: list[dict[int, Sample]] = attrs.field()
    models: set[str] = attrs.Factory(set)  # response.model of every answer
    usage: list[int | None] = attrs.Factory(list)  # completion tokens of every answer

    @found.default
    def _nothing_found(self) -> list[dict[int, Sample]]:
        return [{} for _ in self.prompts]

    def seed_for(self, request: _Request) -> int | None:
        """The request's own seed, so a prompt's candidates differ and are reproducible."""
        if self.seed is None:
            return None
        return request_seed(self.seed, self.prompts[request.prompt_index], request.first)


@attrs.frozen
class _Answer:
    texts: list[Sample]
    model: str | None
    completion_tokens: int | None


class OpenAISampler:
    """``--sampler openai``: candidates from a served model.

    :ivar model: the model name asked for.
    :ivar served_model: the model name(s) the server said answered the last
        call to :meth:`sample` (``response.model``; several are joined with
        ``", "``), or None before any call. A run record shows it so a reader
        can check the served model was the document's current adapter.
    :ivar generated_tokens: completion tokens the server reported for the
        last call, or None when it reported no usage.
    :ivar requests: chat completion calls the last call made (the client's own
        retries of a call not counted).
    :ivar takes_n: whether the server honours ``n`` (None until seen).
    """

    name = "openai"

    def __init__(
        self,
        endpoint: Endpoint,
        model: str,
        *,
        system_prompt: str | None = None,
        n_per_request: str = "auto",
        progress: Callable[[int], ProgressBar] | None = None,
        client: openai.OpenAI | None = None,
    ) -> None:
        if n_per_request not in N_PER_REQUEST:
            raise ValueError(f"n_per_request must be one of {N_PER_REQUEST}, not {n_per_request!r}")
        self.endpoint = endpoint
        self.model = model
        self.system_prompt = system_prompt
        self.takes_n: bool | None = {"auto": None, "on": True, "off": False}[n_per_request]
        self._progress = progress
        self._client = client if client is not None else endpoint.client()
        self.served_model: str | None = None
        self.generated_tokens: int | None = None
        self.requests = 0
        self._lock = threading.Lock()

    def sample(
        self,
        prompts: list[str],
        n: int,
        *,
        temperature: float,
        top_p: float | None,
        max_new_tokens: int,
        seed: int | None,
    ) -> list[list[str]]:
        """``n`` candidates for each prompt, in prompt order (see the module docstring)."""
        check_sample_arguments(
            n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens
        )
        self.requests = 0
        self.generated_tokens = None
        if not prompts:
            return []
        greedy = temperature == 0
        per_prompt = 1 if greedy else n
        settings: dict[str, Any] = {"temperature": temperature, "max_tokens": max_new_tokens}
        if top_p is not None:
            settings["top_p"] = top_p
        call = _Call(prompts, settings, seed, total=len(prompts) * per_prompt)
        self._gather(
            call,
            [
                request
                for index in range(len(prompts))
                for request in self._first_requests(index, per_prompt, greedy)
            ],
        )
        self.served_model = ", ".join(sorted(call.models)) or None
        self.generated_tokens = (
            None
            if any(u is None for u in call.usage)
            else sum(u for u in call.usage if u is not None)
        )
        if greedy:
            return [[call.found[i][0]] * n for i in range(len(prompts))]
        return [[call.found[i][k] for k in range(n)] for i in range(len(prompts))]

    def _first_requests(self, index: int, per_prompt: int, greedy: bool) -> list[_Request]:
        """One request for all of a prompt's candidates, or one per candidate.

        One per candidate when greedy (a single answer is asked for) or when
        the server has shown that it ignores ``n``.
        """
        if greedy or self.takes_n is False:
            return [_Request(index, first, 1) for first in range(per_prompt)]
        return [_Request(index, 0, per_prompt)]

    def _gather(self, call: _Call, requests: list[_Request]) -> None:
        """Run ``requests``, and the follow-ups their answers call for, into ``call``.

        At most ``concurrency`` requests are in flight; the first failure stops
        the call, and queued requests never start.
        """
        bar = self._progress(call.total) if self._progress is not None else None
        pool = ThreadPoolExecutor(
            max_workers=self.endpoint.concurrency, thread_name_prefix="dlm-sampler-openai"
        )
        failed = True
        try:
            pending: dict[Future[_Answer], _Request] = {}

            def submit(request: _Request) -> None:
                prompt = call.prompts[request.prompt_index]
                future = pool.submit(
                    self._ask, prompt, request.count, call.settings, call.seed_for(request)
                )
                pending[future] = request

            for request in requests:
                submit(request)
            while pending:
                done, _ = wait(list(pending), timeout=0.2, return_when=FIRST_EXCEPTION)
                for future in done:
                    request = pending.pop(future)
                    for follow_up in self._take(call, request, future, bar):
                        submit(follow_up)
            failed = False
        finally:
            # On a failure or Ctrl-C, queued requests never start; those in flight end on their own.
            pool.shutdown(wait=not failed, cancel_futures=True)
            if bar is not None:
                bar.close()

    def _take(
        self, call: _Call, request: _Request, future: Future[_Answer], bar: ProgressBar | None
    ) -> list[_Request]:
        """Record one request's answer; return the requests for candidates it did not bring.

        A server that answers a request for several choices with one ignores
        ``n``: the rest are asked for one at a time, from now on.
        """
        try:
            answer = future.result()
        except Exception as error:
            got = sum(len(f) for f in call.found)
            raise SamplerError(
                f"sampler 'openai' ({self.model}) failed after {got} of {call.total} "
                f"candidates: {describe(error, self.endpoint, self.model)}"
            ) from error
        call.models.update([answer.model] if answer.model else [])
        call.usage.append(answer.completion_tokens)
        texts = answer.texts[: request.count]
        for offset, text in enumerate(texts):
            call.found[request.prompt_index][request.first + offset] = text
        if bar is not None:
            bar.update(len(texts))
        if len(texts) < request.count:
            if request.count > 1 and len(texts) >= 1:
                self.takes_n = False  # the server ignores n: one request per candidate
            elif not texts:
                raise SamplerError(
                    f"sampler 'openai' ({self.model}): the server at "
                    f"{self.endpoint.base_url} answered with no choices"
                )
            return [
                _Request(request.prompt_index, first, 1)
                for first in range(request.first + len(texts), request.first + request.count)
            ]
        if request.count > 1:
            self.takes_n = True
        return []

    def _ask(self, prompt: str, count: int, settings: dict[str, Any], seed: int | None) -> _Answer:
        messages: list[dict[str, str]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        extra: dict[str, Any] = dict(settings)
        if count > 1:
            extra["n"] = count
        if seed is not None:
            extra["seed"] = seed
        with self._lock:
            self.requests += 1
        response = self._client.chat.completions.create(
            model=self.model, messages=messages, **extra
        )  # type: ignore[arg-type]
        choices = sorted(response.choices or [], key=lambda c: c.index)
        tokens = response.usage.completion_tokens if response.usage is not None else None
        texts = [
            Sample(
                normalize_text(choice.message.content or ""),
                truncated=choice.finish_reason == "length",
                tokens=tokens if len(choices) == 1 else None,
            )
            for choice in choices
        ]
        return _Answer(texts, response.model, tokens)
