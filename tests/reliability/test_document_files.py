"""The document as a file: links, special files, permissions, leftovers (issue 11, items 4 and 13)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli
from dlm_core.document.io import MAX_DOCUMENT_BYTES, read_document, read_text, write_document
from dlm_core.document.model import Section
from dlm_core.errors import DocumentError
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

TEXT = "::instruction::\n### Q\nHow should release notes read?\n### A\nShort.\n"


def dlm_exe() -> str:
    return str(Path(sys.executable).with_name("dlm"))


def with_one_more_section(path: Path) -> None:
    document = read_document(path)
    write_document(path, document.appending([Section.prose("A new paragraph.", fenced=True)]))


# -- item 4: a symlinked document ------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True], ids=["absolute-link", "relative-link"])
def test_a_write_through_a_symlink_goes_to_its_target_and_the_link_stays(
    tmp_path: Path, relative: bool
) -> None:
    target = tmp_path / "notes" / "real.dlm"
    target.parent.mkdir()
    target.write_text(TEXT, encoding="utf-8")
    link = tmp_path / "link.dlm"
    link.symlink_to(Path("notes/real.dlm") if relative else target)
    with_one_more_section(link)
    assert link.is_symlink() and os.readlink(link) == str(
        Path("notes/real.dlm") if relative else target
    )
    assert "A new paragraph." in target.read_text(encoding="utf-8")
    assert (tmp_path / "notes" / "real.dlm.bak").read_text(encoding="utf-8") == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.dlm", "notes"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["real.dlm", "real.dlm.bak"]


def test_training_a_symlinked_document_gives_the_real_file_its_id(
    tmp_path: Path, tiny_base: Path, dlm_home: Path, dlm_host: PluginHost
) -> None:
    target = tmp_path / "real.dlm"
    target.write_text(
        f"---\nbase_model: hf:{tiny_base}\n---\n# Notes\n\nShort and factual.\n", encoding="utf-8"
    )
    link = tmp_path / "link.dlm"
    link.symlink_to(target)
    dlm_host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    options = TrainOptions(phase="sft", max_steps=1, progress=False)
    train_document(Workspace(dlm_home, dlm_host, say=lambda m: None), link, options)
    assert link.is_symlink()
    dlm_id = read_document(target).dlm_id
    assert dlm_id is not None
    manifest = Store(dlm_home, dlm_id).manifest()
    assert manifest is not None and manifest.document_path == str(target.resolve())


# -- item 13: special files, size, permissions, leftovers ------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "doc.dlm"
    os.mkfifo(fifo)
    result = subprocess.run(
        [dlm_exe(), "--home", str(tmp_path / "home"), "show", str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,  # a reader that waits for a writer never returns
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: {fifo}:1:1: not a regular file (a FIFO); a .dlm document is a plain file"
    )


def test_dev_zero_is_refused_without_reading_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [dlm_exe(), "--home", str(tmp_path / "home"), "show", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=120,  # reading /dev/zero ends only in MemoryError
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: /dev/zero:1:1: not a regular file (a character device); a .dlm document is a plain file"
    )


def test_a_document_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.dlm"
    with path.open("wb") as handle:  # sparse: no disk space, no reading time
        handle.truncate(MAX_DOCUMENT_BYTES + 1)
    with pytest.raises(DocumentError, match=r"larger than the \d+ MiB a \.dlm document may be"):
        read_text(path)


WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from dlm_core.document.io import read_document, write_document
    from dlm_core.document.model import Section

    real_fsync = os.fsync

    def stall(fd):  # the document's new text is written but not yet renamed into place
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(".doc.dlm.") and not name.startswith(".doc.dlm.bak."):
            print("ready", flush=True)
            time.sleep(120)
        real_fsync(fd)

    os.fsync = stall
    path = Path(sys.argv[1])
    write_document(path, read_document(path).appending([Section.prose("From the killed writer.", fenced=True)]))
    """
)


def _stalled_writer(tmp_path: Path, path: Path) -> subprocess.Popen[bytes]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    return process


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_temporary_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text(TEXT, encoding="utf-8")
    process = _stalled_writer(tmp_path, path)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (left,) = _temporaries(tmp_path)  # the .bak was written; the document's temporary is left
    assert left.startswith(".doc.dlm.") and not left.startswith(".doc.dlm.bak")
    with_one_more_section(path)
    assert _temporaries(tmp_path) == []
    assert "From the killed writer." not in path.read_text(encoding="utf-8")


def test_the_temporary_of_a_writer_still_running_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "doc.dlm"
    other.write_text(TEXT, encoding="utf-8")
    process = _stalled_writer(tmp_path, other)
    try:
        (live,) = _temporaries(tmp_path)
        with_one_more_section(other)
        assert live in _temporaries(tmp_path)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o664])
def test_the_backup_keeps_the_document_s_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text(TEXT, encoding="utf-8")
    path.chmod(mode)
    with_one_more_section(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE(path.with_name("doc.dlm.bak").stat().st_mode) == mode


def test_a_read_only_document_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text(TEXT, encoding="utf-8")
    path.chmod(0o444)
    before = path.stat()
    with pytest.raises(DocumentError, match="read-only") as caught:
        with_one_more_section(path)
    assert "chmod u+w" in str(caught.value)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert path.read_text(encoding="utf-8") == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.dlm"]


def test_mine_apply_refuses_a_read_only_document_before_sampling(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path, scripted_sampler
) -> None:  # type: ignore[no-untyped-def]
    scripted_doc.chmod(0o444)
    options = MineOptions(sampler="scripted", judge="terse", progress=False, apply=True)
    with pytest.raises(DocumentError, match="read-only"):
        mine_document(Workspace(dlm_home, scripted_host, say=lambda m: None), scripted_doc, options)
    assert scripted_sampler.calls == 0


def test_a_failing_apply_on_an_untrained_document_makes_no_store_folder(
    tmp_path: Path, dlm_home: Path
) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text("---\ndlm_id: 01KPM5CXB51GRX86Q25AKERN6E\n---\n" + TEXT, encoding="utf-8")
    for args in (["preference", "apply", str(path)], ["preference", "revert", str(path)]):
        result = CliRunner().invoke(cli, ["--home", str(dlm_home), *args])
        assert result.exit_code in (0, 1), result.output
    result = CliRunner().invoke(cli, ["--home", str(dlm_home), "preference", "apply", str(path)])
    assert result.exit_code == 1
    assert "has not been trained yet" in result.stderr
    assert not (dlm_home / "store").exists()
