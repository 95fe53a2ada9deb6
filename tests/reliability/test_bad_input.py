"""Bad input at scale: each case gets a clear message and leaves nothing broken."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli
from dlm_core.document.io import read_document
from dlm_core.document.parser import parse
from dlm_core.plugins import PluginHost
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.workspace import Workspace


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "---\ndlm_id: 01KPM5CXB51GRX86Q25AKERN6E\nbase_model: smollm2-135m\n---\n"],
    ids=["empty", "blank-lines", "frontmatter-only"],
)
def test_a_document_with_nothing_to_train_is_refused_and_left_untouched(
    tmp_path: Path, dlm_home: Path, text: str
) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text(text, encoding="utf-8")
    code, _out, err = run_cli("--home", str(dlm_home), "show", str(path))
    assert code == 0, err
    code, _out, err = run_cli("--home", str(dlm_home), "train", str(path))
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: {path} has no prose or instruction text to train on"
    ]
    assert path.read_text(encoding="utf-8") == text
    assert not (tmp_path / "doc.dlm.bak").exists()


def test_a_one_megabyte_record_parses_quickly_and_trains_truncated(
    tmp_path: Path, dlm_home: Path, tiny_base: Path
) -> None:
    from dlm_core.training.phases import TrainOptions, train_document

    answer = "\n".join(f"line {i} of a very long answer" for i in range(40000))
    assert len(answer) > 1_000_000
    path = tmp_path / "big.dlm"
    path.write_text(
        f"---\ndlm_id: 01KPM5CXB51GRX86Q25AKERN6E\nbase_model: hf:{tiny_base}\ntraining: {{sequence_len: 128}}\n---\n"
        f"::instruction::\n### Q\nWhat is long?\n### A\n{answer}\n",
        encoding="utf-8",
    )
    document = read_document(path)
    assert document.sections[0].records[0]["A"] == answer
    # One long record parses in time linear in its length (twice the record, about twice the time).
    record = "::instruction::\n### Q\nWhat is long?\n### A\n"
    long = "\n".join([answer] * 2)  # 2.6 MB: long enough that timer noise does not matter
    ratio = _doubling_ratio(f"{record}{long}\n", f"{record}{long}\n{long}\n")
    assert ratio < 3.0, f"a record twice as long took {ratio:.2f} times as long to parse"
    host = PluginHost.with_builtins()
    trainer = LoopTrainer()
    host.register(loop_trainer_plugin(trainer), "test-loop-trainer")
    (outcome,) = train_document(
        Workspace(dlm_home, host, say=lambda m: None),
        path,
        TrainOptions(max_steps=1, progress=False),
    )
    assert outcome.version == 1
    (row,) = trainer.jobs[0].lm_rows
    assert len(row.input_ids) == 128


def _doubling_ratio(text: str, doubled: str, runs: int = 3) -> float:
    """Parse time of ``doubled`` over that of ``text``: best of ``runs`` each, interleaved.

    Linear parsing gives about 2, quadratic about 4, whatever the machine's load.
    """
    best = [float("inf"), float("inf")]
    for _ in range(runs):
        for index, sample in enumerate((text, doubled)):
            clock = time.perf_counter()
            parse(sample)
            best[index] = min(best[index], time.perf_counter() - clock)
    return best[1] / best[0]


def test_parse_of_a_ten_megabyte_document_stays_linear() -> None:
    # Complexity, not speed: twice the text must take about twice the time, measured
    # here against itself (absolute times belong in bench/parse.py).
    section = "::instruction::\n" + "".join(
        f"### Q\nquestion {i}\n### A\nanswer {i}\n\n" for i in range(50)
    )
    half, full = "# prose\n\n" + section * 3000, "# prose\n\n" + section * 6000
    assert len(full) > 10_000_000
    document = parse(full)
    assert len(document.sections) == 6001
    ratio = _doubling_ratio(half, full, runs=2)
    assert ratio < 3.0, f"parsing twice the text took {ratio:.2f} times as long (linear: 2)"
