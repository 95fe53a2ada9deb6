"""Where the judge's settings come from, and the errors for settings that cannot work.

None of these need a model: a refused connection is a real one (a free
port nobody listens on).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlm_core.api import JudgeError, JudgeSpec
from dlm_core.plugins import PluginHost
from dlm_core.testing import free_port


def one_error(call, *args: object) -> str:  # type: ignore[no-untyped-def]
    """The message of the JudgeError ``call(*args)`` raises; it must be one line."""
    with pytest.raises(JudgeError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_importing_the_plugin_imports_neither_openai_nor_torch() -> None:
    code = (
        "import sys, dlm_judge_openai; dlm_judge_openai.dlm_judges(); "
        "print(sorted(m for m in ('openai', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hook_registers_the_openai_judge(host: PluginHost) -> None:
    assert host.specs(JudgeSpec)["openai"].description


@pytest.mark.parametrize("selector", ["openai", "openai:", "openai:  "])
def test_a_missing_model_says_how_to_name_one(host: PluginHost, context, selector: str) -> None:  # type: ignore[no-untyped-def]
    assert one_error(host.judge, selector, context()).startswith(
        "judge 'openai' needs a model: use --judge openai:<model>"
    )


def test_no_server_address_says_how_to_give_one(host: PluginHost, context) -> None:  # type: ignore[no-untyped-def]
    assert one_error(host.judge, "openai:judge-7b", context()) == (
        "judge 'openai:judge-7b' needs a server: pass --judge-option base_url=http://HOST:PORT/v1 "
        "or set DLM_OPENAI_JUDGE_BASE_URL or DLM_OPENAI_BASE_URL"
    )


def test_the_judge_address_falls_back_to_the_sampler_one(
    host: PluginHost, context, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    shared, own = (f"http://127.0.0.1:{free_port()}/v1" for _ in range(2))
    monkeypatch.setenv("DLM_OPENAI_BASE_URL", shared)
    assert f"the server at {shared}" in one_error(host.judge, "openai:m", context())
    monkeypatch.setenv("DLM_OPENAI_JUDGE_BASE_URL", own)
    assert f"the server at {own}" in one_error(host.judge, "openai:m", context())


def test_connection_refused_is_one_line_naming_the_server(host: PluginHost, context) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{free_port()}/v1"
    message = one_error(host.judge, "openai:m", context(base_url=url))
    assert message.startswith(f"judge 'openai:m': cannot reach the server at {url} (")
    assert "Connection refused" in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"rubrik": "x"},
            "unknown --judge-option rubrik; known: base_url, concurrency, max_retries, max_tokens, mode, response_format, rubric, temperature, timeout",
        ),
        ({"api_key": "sk-1"}, "--judge-option api_key=... is not accepted"),
        ({"mode": "listwise"}, "--judge-option mode=listwise: expected one of pointwise, pairwise"),
        (
            {"response_format": "yaml"},
            "--judge-option response_format=yaml: expected one of auto, json_schema, json_object, none",
        ),
        ({"temperature": "hot"}, "--judge-option temperature=hot: expected a number from 0 to 2"),
        ({"max_tokens": "0"}, "--judge-option max_tokens=0: expected a whole number of at least 1"),
        ({"rubric": "/nonexistent/rubric.txt"}, "cannot read rubric /nonexistent/rubric.txt"),
    ],
)
def test_malformed_options_are_refused_before_any_request(
    host: PluginHost, context, options: dict[str, str], expected: str
) -> None:  # type: ignore[no-untyped-def]
    message = one_error(
        host.judge, "openai:m", context(base_url="http://127.0.0.1:9/v1", **options)
    )
    assert message.startswith(expected)


def test_a_pairwise_rubric_needs_both_answers(host: PluginHost, context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rubric = tmp_path / "pairwise.txt"
    rubric.write_text("Which is better for {prompt}? {answer_a}\n")
    message = one_error(
        host.judge,
        "openai:m",
        context(base_url="http://127.0.0.1:9/v1", mode="pairwise", rubric=str(rubric)),
    )
    assert message.endswith(
        "has no {answer_b}; a pairwise rubric marks where {prompt} and {answer_a} and {answer_b} go"
    )
