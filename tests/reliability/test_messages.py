"""Failures a user can act on say what failed and what to do, in one line (issue 11, item 12).

Each case here used to end in ``unexpected <Type>`` with no path and no fix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core import hookimpl
from dlm_core.cli.main import cli
from dlm_core.document.io import read_document
from dlm_core.errors import JudgeError
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.plugins import JudgeSpec, PluginHost
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

BODY = "::instruction::\n### Q\nHow should release notes read?\n### A\nShort.\n"


def dlm(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args])
    return result.exit_code, result.stderr


def one_error_line(stderr: str) -> str:
    (line,) = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
    assert "unexpected" not in line, line
    return line


# -- a damaged metrics.sqlite ----------------------------------------------------------------


def test_a_damaged_metrics_database_is_named_and_can_be_moved_aside(
    tiny_doc: Path, dlm_home: Path, dlm_host: PluginHost
) -> None:
    dlm_host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    workspace = Workspace(dlm_home, dlm_host, say=lambda m: None)
    options = TrainOptions(phase="sft", max_steps=1, progress=False)
    train_document(workspace, tiny_doc, options)
    metrics = Store(dlm_home, read_document(tiny_doc).dlm_id).metrics_path  # type: ignore[arg-type]
    metrics.write_bytes(b"this was a database until a bad disk sector\n" * 100)
    for args in (["show", str(tiny_doc)], ["metrics", str(tiny_doc)]):
        code, err = dlm(dlm_home, *args)
        assert code == 1
        line = one_error_line(err)
        assert str(metrics) in line and "move it aside" in line
    with pytest.raises(Exception, match="move it aside") as caught:
        train_document(workspace, tiny_doc, options)
    assert str(metrics) in str(caught.value)
    metrics.rename(metrics.with_name("metrics.sqlite.damaged"))
    assert dlm(dlm_home, "show", str(tiny_doc))[0] == 0
    (outcome,) = train_document(workspace, tiny_doc, options)
    assert (
        outcome.version == 2 and metrics.exists()
    )  # the refused run made no version; a fresh database


# -- a full disk (a real one: a tiny tmpfs in a private mount namespace) ---------------------


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    target = tmp_path / "probe"
    target.mkdir()
    probe = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            f"mount -t tmpfs -o size=64k tmpfs {target}",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


def _in_a_full_tmpfs(tmp_path: Path, size: str, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) with ``$FULL`` a fresh tmpfs of ``size``, private to the process."""
    if not _can_mount_tmpfs(tmp_path):
        pytest.skip("needs unshare with user and mount namespaces to make a tiny tmpfs")
    full = tmp_path / "full"
    full.mkdir()
    wrapper = f'mount -t tmpfs -o size={size} tmpfs "$FULL" && {script}'
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", wrapper],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FULL": str(full), "HF_HUB_OFFLINE": "1"},
    )


def test_a_full_disk_while_writing_the_document_names_it_and_changes_nothing(
    tmp_path: Path,
) -> None:
    original = "# Notes\n\n" + "A line of prose that fills the disk.\n" * 700  # 25 KB
    source = tmp_path / "doc.dlm"
    source.write_text(original + BODY, encoding="utf-8")
    exe = Path(sys.executable).with_name("dlm")
    # The document and its .bak fit in the 64 KiB; the new text beside them does not.
    result = _in_a_full_tmpfs(
        tmp_path,
        "64k",
        f'cp {source} "$FULL/doc.dlm" && {exe} --home {tmp_path / "home"} train "$FULL/doc.dlm"; '
        f'echo "rc=$?"; cmp -s {source} "$FULL/doc.dlm" && echo unchanged; ls -a "$FULL"',
    )
    assert "rc=1" in result.stdout, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert "doc.dlm" in line and "no space left" in line and "nothing was changed" in line
    assert "unchanged" in result.stdout
    assert ".tmp" not in result.stdout  # no temporary left behind


SQLITE_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from dlm_core.errors import DlmError
    from dlm_core.metrics.db import MetricsDB

    path = Path(os.environ["FULL"]) / "store" / "metrics.sqlite"
    try:
        with MetricsDB.open(path) as db:
            run = db.start_run("train", config={"padding": "x" * 4096})
            for step in range(100000):  # until the disk is full
                db.log_steps(run, [(step, 1.0, 1e-3, 0.5, {"padding": "y" * 1024})])
    except DlmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    """
)


def test_a_full_disk_under_the_metrics_database_names_the_file(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(SQLITE_WRITER, encoding="utf-8")
    result = _in_a_full_tmpfs(tmp_path, "256k", f"{sys.executable} {script}")
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert "metrics.sqlite" in line and "no space left" in line


# -- a judge that breaks its contract ----------------------------------------------------------


class _Returns:
    name = "odd"
    default_threshold = 0.0

    def __init__(self, value: object) -> None:
        self.value = value

    def score(self, prompt: str, candidates: list[str]) -> object:
        return self.value() if callable(self.value) else self.value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "None"),
        (lambda: (float(i) for i in range(2)), "generator"),
        (3.0, "float"),
    ],
    ids=["None", "generator", "a bare number"],
)
def test_a_judge_that_returns_no_list_is_a_one_line_judge_error(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path, scripted_sampler, value, shown
) -> None:  # type: ignore[no-untyped-def]
    @hookimpl
    def dlm_judges():  # type: ignore[no-untyped-def]
        return [JudgeSpec(name="odd", factory=lambda ctx, arg: _Returns(value))]

    scripted_host.register(types.SimpleNamespace(dlm_judges=dlm_judges), "test-odd-judge")
    scripted_sampler.candidates = {"How should release notes read?": ["Short.", "Much longer."]}
    options = MineOptions(sampler="scripted", judge="odd", progress=False)
    with pytest.raises(JudgeError) as caught:
        mine_document(Workspace(dlm_home, scripted_host, say=lambda m: None), scripted_doc, options)
    message = str(caught.value)
    assert message.startswith("judge 'odd' returned") and shown in message
    assert "a list of numbers, one per candidate" in message


# -- a plugin's own exception -------------------------------------------------------------------

BROKEN_PLUGIN = """
from dlm_core.api import BuiltinSectionType, SectionTypeSpec, TextExample, hookimpl


def _examples(section):
    raise ValueError("cannot read this section")


@hookimpl
def dlm_section_types():
    kind = BuiltinSectionType(name="broken", headers=(), phase="sft", to_examples=_examples)
    return [SectionTypeSpec(name="broken", factory=lambda: kind)]
"""


def test_a_plugin_s_value_error_is_one_line_naming_the_plugin(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "dlm_test_broken.py").write_text(BROKEN_PLUGIN, encoding="utf-8")
    info = dist / "dlm_test_broken-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dlm-test-broken\nVersion: 0.0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[dlm]\nsection-broken = dlm_test_broken\n", encoding="utf-8"
    )
    document = tmp_path / "doc.dlm"
    document.write_text("# Notes\n\nProse.\n\n::broken::\nsome text\n", encoding="utf-8")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dlm")),
            "--home",
            str(tmp_path / "home"),
            "train",
            str(document),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(dist), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert "section-broken" in line and "dlm-test-broken" in line
    assert "ValueError: cannot read this section" in line
    assert "DLM_DISABLE_PLUGINS" in line
