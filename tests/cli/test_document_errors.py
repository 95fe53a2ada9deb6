"""A malformed ``.dlm`` file, as the user meets it: through ``dlm show``.

Each case is a real file on disk read by the real command line. The
contract (design sections 3 and 9): exit code 1, exactly one ``error:``
line on stderr naming ``PATH:LINE:COL`` and what was expected, no
traceback, nothing on stdout, and the file left as it was.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli

DLM = Path(sys.executable).with_name("dlm")

MARKER = (
    '<!-- dlm-auto-mined: judge_name="sway" judge_score_chosen="{chosen}" '
    'judge_score_rejected="0.31" mined_at="2026-04-23T18:42:11Z"{run_id} -->'
)
FLOW = "training: {lora_r: 8, preference: {method: dpo, betta: 0.1}}"
PAIR = "### Prompt\nHow should notes read?\n### Chosen\nShort.\n### Rejected\nLong!!!\n"


def _marker(chosen: str = "0.82", run_id: str = ' mined_run_id="7"') -> str:
    return MARKER.format(chosen=chosen, run_id=run_id)


# name: (file bytes, line, col, what the message must say)
CASES: dict[str, tuple[bytes, int, int, str]] = {
    "unknown top-level key": (
        b"---\nbase_model: smollm2-135m\nbogus_key: 1\n---\nHello.\n",
        3,
        1,
        "unknown key 'bogus_key'; expected one of: dlm_id, dlm_version, base_model",
    ),
    "unknown nested key": (
        b"---\ntraining:\n  lora_r: 8\n  lora_rr: 16\n---\nHello.\n",
        4,
        3,
        "unknown key 'training.lora_rr' (did you mean 'lora_r'?); expected one of: adapter, lora_r,",
    ),
    "unknown key in a flow mapping": (
        f"---\n{FLOW}\n---\nHello.\n".encode(),
        2,
        FLOW.index("betta") + 1,
        "unknown key 'training.preference.betta'",
    ),
    "duplicate key": (
        b"---\nbase_model: a\ntraining:\n  seed: 1\nbase_model: b\n---\nHello.\n",
        5,
        1,
        "duplicate key 'base_model' (first set on line 2)",
    ),
    "value out of range": (
        b"---\ntraining:\n  warmup_ratio: 0.9\n---\nHello.\n",
        3,
        3,
        "training.warmup_ratio must be at most 0.5, got 0.9",
    ),
    "unterminated frontmatter": (
        b"---\nbase_model: smollm2-135m\n\nHello.\n",
        1,
        1,
        "frontmatter opened with '---' is never closed; add a '---' line after the YAML",
    ),
    "preference record missing Rejected before the next record": (
        b"::preference::\n### Prompt\np\n### Chosen\nc\n\n### Prompt\np2\n### Chosen\nc2\n### Rejected\nr2\n",
        7,
        1,
        "expected '### Rejected', found '### Prompt'",
    ),
    "preference record missing Rejected at the end": (
        b"Intro.\n\n::preference::\n### Prompt\np\n### Chosen\nc\n",
        4,
        1,
        "::preference:: record is missing '### Rejected'",
    ),
    "answer before its question": (
        b"::instruction::\n### A\nAn answer.\n### Q\nA question?\n",
        2,
        1,
        "found '### A' before its '### Q'; each record starts with '### Q'",
    ),
    "non-numeric judge score": (
        f"::preference::\n{_marker(chosen='high')}\n{PAIR}".encode(),
        2,
        _marker().index("judge_score_chosen") + 1,
        "judge_score_chosen must be a decimal number such as 0.82, got 'high'",
    ),
    "marker missing a field": (
        f"Intro.\n::preference::\n{_marker(run_id='')}\n{PAIR}".encode(),
        3,
        _marker(run_id="").index(" -->") + 1,
        "dlm-auto-mined marker is missing mined_run_id",
    ),
    "binary file": (
        b"Hello.\nwor\x00ld\n",
        2,
        4,
        "binary file (NUL byte); a .dlm document is UTF-8 text",
    ),
    "non-UTF-8 bytes": (
        "Hello.\nü café\n".encode() + b"caf\xe9\n",
        3,
        4,
        "not UTF-8 text (byte 0xe9); save the file as UTF-8",
    ),
    "non-UTF-8 after wide characters": (
        "ü ".encode() + b"caf\xe9\n",
        1,
        6,
        "not UTF-8 text (byte 0xe9)",
    ),
    "unknown fence": (
        b"Intro.\n\n::foo::\n### Q\nq\n",
        3,
        1,
        "unknown section type '::foo::'; known types: eval, instruction, preference, prose",
    ),
    "unclosed code block in prose": (
        b"Intro.\n\n```python\nprint(1)\n\n::instruction::\n### Q\nq\n### A\na\n",
        3,
        1,
        "this ``` code block is never closed; add a closing ``` line",
    ),
    "stray carriage return": (
        b"Intro.\r\nOne\rtwo\r\n",
        2,
        4,
        "carriage return (\\r) that does not end a line",
    ),
}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_dlm_show_reports_one_located_error(name: str, tmp_path: Path) -> None:
    content, line, col, message = CASES[name]
    path = tmp_path / "notes.dlm"
    path.write_bytes(content)
    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path / "home"), "show", str(path)], prog_name="dlm"
    )
    assert result.exit_code == 1, result.output
    [error] = _error_lines(result.stderr)
    assert error.startswith(f"error: {path}:{line}:{col}: ")
    assert message in error
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    "name", ["unknown nested key", "non-UTF-8 bytes", "answer before its question"]
)
def test_the_installed_dlm_reports_one_located_error(name: str, tmp_path: Path) -> None:
    content, line, col, message = CASES[name]
    path = tmp_path / "notes.dlm"
    path.write_bytes(content)
    result = subprocess.run(
        [str(DLM), "--home", str(tmp_path / "home"), "show", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    [error] = _error_lines(result.stderr)
    assert error.startswith(f"error: {path}:{line}:{col}: ")
    assert message in error
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_valid_document_still_shows(tmp_path: Path) -> None:
    path = tmp_path / "notes.dlm"
    path.write_bytes(f"Intro.\n\n::preference::\n{_marker()}\n{PAIR}".encode())
    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path / "home"), "show", str(path)], prog_name="dlm"
    )
    assert result.exit_code == 0, result.stderr
    assert "auto-mined by sway" in result.stdout
