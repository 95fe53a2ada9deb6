"""Retries with backoff on 429 and 5xx, timed against a scripted in-process server.

A real server cannot be made to answer 429 or 503 on cue, so these tests
(and only these) use a tiny HTTP server that answers from a script, then
with a fixed completion. Times are measured where the requests arrive;
each assertion is a lower bound the client's sleep guarantees (backoff
0.5 s doubling, at most 25% jitter below; ``Retry-After`` honoured).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dlm_core.api import SamplerError
from dlm_core.plugins import PluginHost

MODEL = "scripted-model"
ANSWER = "Short, factual, and low-drama."


class ScriptedServer:
    """Answers ``GET /v1/models`` with one model, and each chat completion from ``script``.

    ``script`` is a list of ``(status, headers)`` answered in order; once it is
    used up, every request gets a completion with ``choices`` choices.
    """

    def __init__(self, script: list[tuple[int, dict[str, str]]], choices: int = 1) -> None:
        self.script = list(script)
        self.choices = choices
        self.arrivals: list[float] = []
        self.bodies: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    server.arrivals.append(time.monotonic())
                    server.bodies.append(body)
                    step = server.script.pop(0) if server.script else None
                if step is not None:
                    status, headers = step
                    self._send(status, {"error": {"message": f"scripted {status}"}}, headers)
                    return
                count = body.get("n", 1) if server.choices > 1 else 1
                self._send(200, completion(count))

            def _send(
                self, status: int, payload: dict, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(choices: int) -> dict:
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": f"{ANSWER} ({i})"},
                "finish_reason": "stop",
            }
            for i in range(choices)
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 7 * choices,
            "total_tokens": 10 + 7 * choices,
        },
    }


@pytest.fixture
def scripted() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for server in servers:
        server.close()


def serve(
    scripted: list[ScriptedServer], script: list[tuple[int, dict[str, str]]], choices: int = 1
) -> ScriptedServer:
    server = ScriptedServer(script, choices)
    scripted.append(server)
    return server


def ask(
    host: PluginHost, context, server: ScriptedServer, n: int = 1, **options: str
) -> list[list[str]]:  # type: ignore[no-untyped-def]
    sampler = host.sampler("openai", context(base_url=server.base_url, **options))
    return sampler.sample(
        ["How should release notes read?"],
        n,
        temperature=0.7,
        top_p=None,
        max_new_tokens=32,
        seed=3,
    )


def test_server_errors_are_retried_with_growing_backoff(
    host: PluginHost, context, scripted
) -> None:  # type: ignore[no-untyped-def]
    server = serve(scripted, [(503, {}), (500, {}), (502, {})])
    [[answer]] = ask(host, context, server)
    assert answer == f"{ANSWER} (0)"
    assert len(server.arrivals) == 4  # three failures, then the answer
    first, second, third = server.gaps()
    assert first >= 0.375 and second >= 0.75 and third >= 1.5  # 0.5 s doubling, minus jitter


def test_rate_limits_wait_as_long_as_retry_after_says(host: PluginHost, context, scripted) -> None:  # type: ignore[no-untyped-def]
    server = serve(scripted, [(429, {"Retry-After": "2"})])
    [[answer]] = ask(host, context, server)
    assert answer.startswith(ANSWER)
    (gap,) = server.gaps()
    assert gap >= 2.0


def test_a_server_that_keeps_failing_stops_after_the_retries_with_one_line(
    host: PluginHost, context, scripted
) -> None:  # type: ignore[no-untyped-def]
    server = serve(scripted, [(503, {})] * 10)
    with pytest.raises(SamplerError) as caught:
        ask(host, context, server, max_retries="2")
    assert len(server.arrivals) == 3
    assert str(caught.value) == (
        f"sampler 'openai' ({MODEL}) failed after 0 of 1 candidates: the server at "
        f"{server.base_url} failed with 503 after 2 retries: scripted 503"
    )


def test_a_rate_limit_that_does_not_lift_says_to_lower_concurrency(
    host: PluginHost, context, scripted
) -> None:  # type: ignore[no-untyped-def]
    server = serve(scripted, [(429, {"Retry-After": "0.1"})] * 10)
    with pytest.raises(
        SamplerError,
        match=r"still rate limiting after 1 retries \(scripted 429\); lower --sampler-option concurrency=",
    ):
        ask(host, context, server, max_retries="1")


def test_a_bad_request_is_not_retried(host: PluginHost, context, scripted) -> None:  # type: ignore[no-untyped-def]
    server = serve(scripted, [(400, {})])
    with pytest.raises(SamplerError, match=r"refused the request \(400: scripted 400\)"):
        ask(host, context, server)
    assert len(server.arrivals) == 1


def test_a_server_that_honours_n_gets_one_request_per_prompt(
    host: PluginHost, context, scripted
) -> None:  # type: ignore[no-untyped-def]
    # llama.cpp's server ignores n (the served tests cover that path); vLLM and
    # OpenAI honour it, and then the n candidates of a prompt come in one request.
    server = serve(scripted, [], choices=4)
    sampler = host.sampler("openai", context(base_url=server.base_url))
    result = sampler.sample(["q1", "q2"], 4, temperature=0.7, top_p=None, max_new_tokens=32, seed=3)
    assert [len(c) for c in result] == [4, 4] and len(set(result[0])) == 4
    assert sampler.requests == 2 and sampler.takes_n is True
    assert [body["n"] for body in server.bodies] == [4, 4]
    assert sampler.generated_tokens == 2 * 4 * 7
    assert all(c.tokens is None for c in result[0])  # usage covers the request, not each choice
