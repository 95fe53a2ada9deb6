"""An LLM judge over an OpenAI-compatible ``/chat/completions`` endpoint.

Pointwise: each candidate is scored alone against the rubric (see
:mod:`dlm_judge_openai.rubric`). Pairwise: every ordered pair of a prompt's
candidates is compared, both orders, and a candidate's score is the share
of its comparisons it won (0 to 1), so the score stays pointwise, on one
scale across prompts, and a judge that always prefers the first answer
scores every candidate 0.5 (a tie, never a pair).

The reply must be JSON. Where the server supports it, the request carries
``response_format`` with the reply's JSON schema (OpenAI's ``json_schema``,
else the ``json_object`` + ``schema`` form of llama.cpp's server), so a
constrained decoder cannot answer anything else; a server that refuses both
is asked in plain text. A reply that cannot be read (no JSON, a score out of
range, cut off at ``max_tokens``) gets one retry, a follow-up turn asking for
the JSON only; a second unreadable reply leaves the candidate unscored
(``math.nan``), which mining counts as skip reason ``unscored``, never a
guessed score. A pairwise comparison that stays unreadable is left out of
the shares; a candidate with no readable comparison is unscored.

Requests run concurrently, at most ``concurrency`` at a time. A request the
server fails (after the client's retries on 429 and 5xx) stops the run with
one :class:`~dlm_core.api.JudgeError` line: mining then writes nothing.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from itertools import permutations
from typing import TYPE_CHECKING, Any

from dlm_sampler_openai.endpoint import Endpoint, describe

from dlm_core.api import JudgeError
from dlm_judge_openai.rubric import REPAIR, Rubric, read_score, read_verdict

if TYPE_CHECKING:
    from collections.abc import Callable

    import openai

RESPONSE_FORMATS = ("auto", "json_schema", "json_object", "none")
"""``auto`` tries ``json_schema``, then ``json_object``, then none, keeping the first the server takes."""

DEFAULT_THRESHOLDS = {"pointwise": 1.0, "pairwise": 0.5}
"""One rubric point; or the best candidate winning half its comparisons more than the worst."""


class OpenAIJudge:
    """``--judge openai:<model>``: a served model grades the candidates.

    :ivar name: ``openai:<model>``, written into mined pairs' provenance.
    :ivar default_threshold: 1.0 (one rubric point) pointwise, 0.5 pairwise.
    :ivar served_model: the model name(s) the server said answered, or None
        before any request (``response.model``; several joined with ``", "``).
    :ivar unscored: candidates left unscored so far (unreadable after a retry).
    :ivar retried: replies that were unreadable the first time, so far.
    :ivar requests: chat completion calls made so far (the client's own
        retries of a call not counted).
    :ivar last_replies: the raw replies of the last :meth:`score` call, in
        request order (for a person checking what the judge said).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        model: str,
        rubric: Rubric,
        *,
        system_prompt: str | None = None,
        response_format: str = "auto",
        max_tokens: int = 256,
        temperature: float = 0.0,
        client: openai.OpenAI | None = None,
    ) -> None:
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {RESPONSE_FORMATS}")
        self.endpoint = endpoint
        self.model = model
        self.rubric = rubric
        self.name = f"openai:{model}"
        self.default_threshold = DEFAULT_THRESHOLDS[rubric.mode]
        self.system_prompt = system_prompt
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._formats = (
            ["json_schema", "json_object", "none"]
            if response_format == "auto"
            else [response_format]
        )
        self._client = client if client is not None else endpoint.client()
        self._lock = threading.Lock()
        self._probe = threading.Lock()
        self._settled = False
        self._models: set[str] = set()
        self.served_model: str | None = None
        self.unscored = 0
        self.retried = 0
        self.requests = 0
        self.last_replies: list[str] = []

    @property
    def response_format(self) -> str:
        """The reply format in use: the first the server accepted (or will be tried next)."""
        return self._formats[0]

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate, in order; ``math.nan`` where the reply could not be read."""
        self.last_replies = []
        if not candidates:
            return []
        if self.rubric.mode == "pairwise":
            scores = self._pairwise(prompt, candidates)
        else:
            scores = self._run(
                [
                    lambda c=c: read_score(
                        self._ask_readable(
                            self._render(prompt, candidate=c), _is_score(self.rubric)
                        ),
                        self.rubric.bounds,
                    )
                    for c in candidates
                ]
            )
        values = [math.nan if s is None else float(s) for s in scores]
        with self._lock:
            self.unscored += sum(1 for v in values if math.isnan(v))
        return values

    def _pairwise(self, prompt: str, candidates: list[str]) -> list[float | None]:
        orders = list(permutations(range(len(candidates)), 2))
        verdicts = self._run(
            [
                lambda a=a, b=b: read_verdict(
                    self._ask_readable(
                        self._render(prompt, answer_a=candidates[a], answer_b=candidates[b]),
                        lambda reply: read_verdict(reply) is not None,
                    )
                )
                for a, b in orders
            ]
        )
        won = [0] * len(candidates)
        judged = [0] * len(candidates)
        for (a, b), verdict in zip(orders, verdicts, strict=True):
            if verdict is None:
                continue
            judged[a] += 1
            judged[b] += 1
            won[a if verdict == "A" else b] += 1
        return [won[i] / judged[i] if judged[i] else None for i in range(len(candidates))]

    def _render(self, prompt: str, **answers: str) -> str:
        return self.rubric.render(prompt, self.system_prompt, **answers)

    def _run(self, tasks: list[Callable[[], Any]]) -> list[Any]:
        """Run ``tasks`` concurrently; the first server failure raises :class:`JudgeError`."""
        pool = ThreadPoolExecutor(
            max_workers=min(self.endpoint.concurrency, len(tasks)),
            thread_name_prefix="dlm-judge-openai",
        )
        failed = True
        try:
            futures: list[Future[Any]] = [pool.submit(task) for task in tasks]
            pending = set(futures)
            while pending:
                # Waking up now and then lets Ctrl-C reach this thread promptly.
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                for future in done:
                    error = future.exception()
                    if error is not None:
                        raise JudgeError(
                            f"judge {self.name!r}: {describe(error, self.endpoint, self.model)}"  # type: ignore[arg-type]
                        ) from error
            failed = False
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=not failed, cancel_futures=True)

    def _ask_readable(self, text: str, readable: Callable[[str], bool]) -> str:
        """The judge's reply to ``text``; an unreadable one gets one follow-up asking for JSON only."""
        messages = [{"role": "user", "content": text}]
        reply, cut = self._complete(messages)
        if readable(reply) and not cut:
            return reply
        with self._lock:
            self.retried += 1
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": REPAIR}]
        again, cut = self._complete(messages)
        return "" if cut else again

    def _complete(self, messages: list[dict[str, str]]) -> tuple[str, bool]:
        """One reply and whether ``max_tokens`` cut it off."""
        if not self._settled:
            with self._probe:  # the first request finds the reply format; the others wait for it
                if not self._settled:
                    response = self._settle(messages)
                    self._settled = True
                    return self._read(response)
        return self._read(self._create(self._client, messages, self._formats[0]))

    def _settle(self, messages: list[dict[str, str]]) -> Any:
        """The first request: each reply format in turn until the server accepts one.

        A format is tried without the client's retries, so a server that
        refuses it (400, 422, or llama-cpp-python's 500 for an unknown
        ``response_format`` type) costs one request; any other failure is
        retried as usual with the same format.
        """
        import openai

        while True:
            fmt = self._formats[0]
            if len(self._formats) == 1:
                return self._create(self._client, messages, fmt)
            try:
                return self._create(self._client.with_options(max_retries=0), messages, fmt)
            except openai.APIStatusError as error:
                if _refused(error):
                    self._formats.pop(0)
                    continue
                return self._create(self._client, messages, fmt)
            except openai.APIConnectionError:
                return self._create(self._client, messages, fmt)

    def _create(self, client: openai.OpenAI, messages: list[dict[str, str]], fmt: str) -> Any:
        with self._lock:
            self.requests += 1
        return client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            **_format_arguments(fmt, self.rubric.schema),
        )

    def _read(self, response: Any) -> tuple[str, bool]:
        choice = response.choices[0] if response.choices else None
        reply = (choice.message.content or "") if choice is not None else ""
        with self._lock:
            if response.model:
                self._models.add(response.model)
                self.served_model = ", ".join(sorted(self._models))
            self.last_replies.append(reply)
        return reply, choice is not None and choice.finish_reason == "length"


def _refused(error: Exception) -> bool:
    """Whether the server refused the request's form (a reply format it does not know)."""
    import openai

    if isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
        return True
    return isinstance(error, openai.InternalServerError) and error.status_code in (500, 501)


def _is_score(rubric: Rubric) -> Callable[[str], bool]:
    return lambda reply: read_score(reply, rubric.bounds) is not None


def _format_arguments(fmt: str, schema: dict[str, Any]) -> dict[str, Any]:
    if fmt == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": schema},
            }
        }
    if fmt == "json_object":
        return {"response_format": {"type": "json_object", "schema": schema}}
    return {}
