"""Values that cannot work are refused up front, before a model loads (issue 11, item 11)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core import hookimpl
from dlm_core.cli.main import cli
from dlm_core.document.parser import parse
from dlm_core.errors import DlmError, DocumentError
from dlm_core.plugins import PluginHost, SamplerSpec
from dlm_core.prompting import PromptOptions, prompt_document
from dlm_core.workspace import Workspace

BODY = "::instruction::\n### Q\nq?\n### A\na.\n"
ULID = "01KPM5CXB51GRX86Q25AKERN6E"


def dlm(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args])
    return result.exit_code, result.stderr


def test_a_dlm_id_with_a_trailing_newline_is_refused_and_makes_no_store(
    tmp_path: Path, dlm_home: Path
) -> None:
    text = f'---\ndlm_id: "{ULID}\\n"\n---\n{BODY}'
    with pytest.raises(DocumentError, match="dlm_id must be a 26-character ULID") as caught:
        parse(text)
    assert caught.value.line == 2
    path = tmp_path / "doc.dlm"
    path.write_text(text, encoding="utf-8")
    code, err = dlm(dlm_home, "train", str(path))
    assert code == 1 and "dlm_id must be a 26-character ULID" in err
    assert not (dlm_home / "store").exists()


@pytest.mark.parametrize("seed", ["1000000000000000000000000000000", "-1", "4294967296"])
def test_a_seed_out_of_range_is_refused_where_it_is_written(seed: str) -> None:
    with pytest.raises(DocumentError, match=r"training\.seed must be") as caught:
        parse(f"---\ntraining:\n  seed: {seed}\n---\n{BODY}")
    assert (caught.value.line, caught.value.col) == (3, 3)


def test_the_largest_seed_numpy_takes_is_accepted() -> None:
    document = parse(f"---\ntraining:\n  seed: 4294967295\n---\n{BODY}")
    assert document.frontmatter.training.seed == 2**32 - 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "args",
    [
        ["train", "{doc}", "--seed", "1000000000000000000000000000000"],
        ["preference", "mine", "{doc}", "--seed", "-1"],
        ["prompt", "{doc}", "q", "--seed", "4294967296"],
        ["preference", "mine", "{doc}", "--threshold", "nan"],
        ["preference", "mine", "{doc}", "--threshold", "inf"],
        ["preference", "mine", "{doc}", "--temp", "nan"],
        ["preference", "mine", "{doc}", "--top-p", "nan"],
        ["preference", "mine", "{doc}", "--judge-timeout", "nan"],
        ["prompt", "{doc}", "q", "--temp", "nan"],
        ["prompt", "{doc}", "q", "--top-p", "nan"],
        ["prompt", "{doc}", "q", "--temp", "inf"],
        ["compare", "{doc}", "--a", "base", "--b", "current", "--temp", "nan"],
        ["compare", "{doc}", "--a", "base", "--b", "current", "--seed", "-1"],
    ],
    ids=lambda args: f"{args[0]} {args[-2]} {args[-1]}",
)
def test_a_flag_that_cannot_work_is_a_usage_error(
    tmp_path: Path, dlm_home: Path, args: list[str]
) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text(BODY, encoding="utf-8")
    code, err = dlm(dlm_home, *(a.format(doc=path) for a in args))
    assert code == 2, err
    assert args[-2] in err


class RecordingSampler:
    def __init__(self) -> None:
        self.max_new_tokens: list[int] = []

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        self.max_new_tokens.append(max_new_tokens)
        return [["an answer"] for _ in prompts]


@pytest.fixture
def recording(dlm_host: PluginHost) -> tuple[PluginHost, RecordingSampler]:
    sampler = RecordingSampler()

    @hookimpl
    def dlm_samplers():  # type: ignore[no-untyped-def]
        return [SamplerSpec(name="recording", factory=lambda ctx: sampler)]

    dlm_host.register(types.SimpleNamespace(dlm_samplers=dlm_samplers), "test-recording")
    return dlm_host, sampler


def test_prompt_max_tokens_beyond_the_model_context_is_refused_before_generating(
    tmp_path: Path, tiny_base: Path, dlm_home: Path, recording: tuple[PluginHost, RecordingSampler]
) -> None:
    host, sampler = recording
    path = tmp_path / "doc.dlm"
    path.write_text(f"---\nbase_model: hf:{tiny_base}\n---\n{BODY}", encoding="utf-8")
    options = PromptOptions(max_tokens=999_999_999, base_only=True, sampler="recording")
    with pytest.raises(DlmError) as caught:
        prompt_document(Workspace(dlm_home, host, say=lambda m: None), path, "q", options)
    assert "--max-tokens 999999999" in str(caught.value) and "2048" in str(caught.value)
    assert sampler.max_new_tokens == []
    within = PromptOptions(max_tokens=2048, base_only=True, sampler="recording")
    assert prompt_document(Workspace(dlm_home, host, say=lambda m: None), path, "q", within)
    assert sampler.max_new_tokens == [2048]
