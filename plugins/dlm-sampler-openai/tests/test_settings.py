"""Where the sampler's settings come from, and the errors for settings that cannot work.

None of these need a model: a refused connection is a real one (a free
port nobody listens on).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlm_core.api import SamplerError, SamplerSpec
from dlm_core.plugins import PluginHost
from dlm_core.testing import free_port


def one_error(kind: type[Exception], call, *args: object) -> str:  # type: ignore[no-untyped-def]
    """The message of the ``kind`` error ``call(*args)`` raises; it must be one line."""
    with pytest.raises(kind) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_importing_the_plugin_imports_neither_openai_nor_torch() -> None:
    code = (
        "import sys, dlm_sampler_openai; dlm_sampler_openai.dlm_samplers(); "
        "print(sorted(m for m in ('openai', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hook_registers_the_openai_sampler(host: PluginHost) -> None:
    assert host.specs(SamplerSpec)["openai"].description


def test_no_server_address_says_how_to_give_one(host: PluginHost, context) -> None:  # type: ignore[no-untyped-def]
    message = one_error(SamplerError, host.sampler, "openai", context())
    assert message == (
        "the openai sampler needs a server: pass --sampler-option base_url=http://HOST:PORT/v1 "
        "or set DLM_OPENAI_BASE_URL"
    )


def test_connection_refused_is_one_line_naming_the_server(host: PluginHost, context) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{free_port()}/v1"
    message = one_error(SamplerError, host.sampler, "openai", context(base_url=url))
    assert message.startswith(f"sampler 'openai': cannot reach the server at {url} (")
    assert "Connection refused" in message and message.endswith(
        "point --sampler-option base_url=... at it"
    )


def test_the_environment_gives_the_address_when_no_option_does(
    host: PluginHost, context, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("DLM_OPENAI_BASE_URL", url)
    assert f"the server at {url}" in one_error(SamplerError, host.sampler, "openai", context())
    other = f"http://127.0.0.1:{free_port()}/v1"
    # The flag wins over the environment.
    assert f"the server at {other}" in one_error(
        SamplerError, host.sampler, "openai", context(base_url=other)
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"base_url": "x", "temprature": "1"},
            "unknown --sampler-option temprature; known: base_url, concurrency, max_retries, model, n_per_request, timeout",
        ),
        (
            {"base_url": "x", "api_key": "sk-1"},
            "--sampler-option api_key=... is not accepted: a key on the command line ends up in shell history; set it in the environment instead",
        ),
        (
            {"base_url": "x", "timeout": "soon"},
            "--sampler-option timeout=soon: expected a positive number",
        ),
        (
            {"base_url": "x", "timeout": "0"},
            "--sampler-option timeout=0: expected a positive number",
        ),
        (
            {"base_url": "x", "concurrency": "0"},
            "--sampler-option concurrency=0: expected a whole number of at least 1",
        ),
        (
            {"base_url": "x", "max_retries": "-1"},
            "--sampler-option max_retries=-1: expected a whole number of at least 0",
        ),
        (
            {"base_url": "x", "n_per_request": "maybe"},
            "--sampler-option n_per_request=maybe: expected one of auto, on, off",
        ),
    ],
)
def test_malformed_options_are_refused_before_any_request(
    host: PluginHost, context, options: dict[str, str], expected: str
) -> None:  # type: ignore[no-untyped-def]
    assert one_error(SamplerError, host.sampler, "openai", context(**options)) == expected
