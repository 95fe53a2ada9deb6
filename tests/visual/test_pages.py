"""`dlm compare --html` and `dlm show --html`: self-contained pages built from real runs."""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.app import App
from dlm_core.cli.main import cli
from dlm_core.document.io import read_document
from dlm_core.report import show_report
from dlm_core.visual.history import GONE, IN_DOCUMENT, document_history
from dlm_core.visual.pages import compare_page, files_folder, write_history_page


def dlm(home: Path, *args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--home", str(home), *[str(a) for a in args]], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def loop_cli(loop, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The real CLI, with the loop's plugin host (scripted sampler and judge) instead of the installed plugins."""
    monkeypatch.setattr(App, "host", property(lambda _app: loop.host))
    return loop


# -- compare ----------------------------------------------------------------------


def test_the_compare_page_holds_the_summary_and_every_prompt(loop, read_page) -> None:  # type: ignore[no-untyped-def]
    report = loop.compare
    page = read_page(compare_page(report))
    assert f"compare run {report.run_id}" in page.text
    assert f"{100 * report.win_rate:.1f}%" in page.text
    assert f"{100 * report.ci_low:.1f}% – {100 * report.ci_high:.1f}%" in page.text
    assert f"{report.wins} / {report.losses} / {report.ties}" in page.text
    assert f"{report.mean_score_a:.4g} → {report.mean_score_b:.4g}" in page.text
    for item in report.items:
        for text in (item.prompt, item.answer_a, item.answer_b):
            assert " ".join(text.split()) in page.text


def test_the_largest_differences_come_first(loop, read_page) -> None:  # type: ignore[no-untyped-def]
    page = read_page(compare_page(loop.compare))
    headings = [p for p in (" ".join(i.prompt.split()) for i in loop.compare.items)]
    by_size = [
        " ".join(i.prompt.split()) for i in sorted(loop.compare.items, key=lambda i: -abs(i.delta))
    ]
    positions = {h: page.text.index(h) for h in headings}
    assert sorted(headings, key=positions.__getitem__) == by_size
    assert by_size[-1] == 'Which <tag> & "quote" survive?'  # the tie: no difference at all


def test_every_text_is_escaped_and_nothing_is_fetched(loop, read_page) -> None:  # type: ignore[no-untyped-def]
    source = compare_page(loop.compare)
    assert "<tag>" not in source and "&lt;tag&gt; &amp; &quot;quote&quot;" in source
    page = read_page(source)
    assert page.network_references() == []
    assert "https://example.com/changelog" in page.text  # a URL in an answer stays plain text


def test_dlm_compare_html_writes_the_page(loop_cli, tmp_path: Path, read_page) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "compare.html"
    code, out, err = dlm(
        loop_cli.home,
        "compare",
        loop_cli.document,
        "--a",
        "1",
        "--b",
        "2",
        "--sampler",
        "loop",
        "--judge",
        "terse",
        "--html",
        target,
    )
    assert code == 0, err
    assert f"wrote {target}" in err and "win rate of v0002" in out
    page = read_page(target.read_text(encoding="utf-8"))
    assert "v0002 vs v0001" in page.text and "Removed --legacy." in page.text


def test_dlm_compare_html_into_a_missing_folder_fails_before_comparing(
    loop_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "nowhere" / "compare.html"
    code, _out, err = dlm(
        loop_cli.home,
        "compare",
        loop_cli.document,
        "--a",
        "1",
        "--b",
        "2",
        "--sampler",
        "loop",
        "--judge",
        "terse",
        "--html",
        target,
    )
    assert code == 1
    assert err.strip() == f"error: cannot write {target}: the folder {target.parent} does not exist"


# -- show -------------------------------------------------------------------------


def _report(loop):  # type: ignore[no-untyped-def]
    return show_report(loop.document, read_document(loop.document), loop.store)


def test_the_history_joins_each_mined_pair_with_its_texts(loop) -> None:  # type: ignore[no-untyped-def]
    history = document_history(_report(loop), loop.store)
    (mine,) = history.mine_runs
    assert mine.run_id == loop.mine.run_id
    assert mine.skipped == loop.mine.skipped
    assert {(p.prompt, p.chosen, p.rejected, p.where) for p in mine.pairs} == {
        (p.prompt, p.chosen, p.rejected, IN_DOCUMENT) for p in loop.mine.mined_pairs
    }
    assert history.unrecorded_pairs == []


def test_the_history_page_shows_versions_runs_and_mined_pairs(
    loop, tmp_path: Path, read_page
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "history.html"
    written = write_history_page(_report(loop), loop.store, target)
    page = read_page(target.read_text(encoding="utf-8"))
    for run_id in loop.run_ids:
        assert any(a.get("id") == f"run-{run_id}" for a in page.elements("a"))
    for text in (
        "v0001",
        "v0002 (current)",
        "instruction 6, prose 1",
        "preference 2",
        "dpo",
        f"Mine run {loop.mine.run_id}",
        "below threshold 1",
        "too similar 1",
        "insufficient variety 1",
    ):
        assert text in page.text, text
    for pair in loop.mine.mined_pairs:
        for text in (pair.prompt, pair.chosen, pair.rejected):
            assert " ".join(text.split()) in page.text
    assert "<script>" not in target.read_text(encoding="utf-8")
    # One SVG per run with something to draw, linked relatively so the folder can move with the page.
    folder = files_folder(target)
    assert written == [target, *(folder / f"run-{i}.svg" for i in loop.run_ids[:3])]
    images = [img["src"] for img in page.elements("img")]
    assert images == [
        f"history-files/run-{loop.mine.run_id}.svg",
        f"history-files/run-{loop.sft.metrics_run_id}.svg",
        f"history-files/run-{loop.preference.metrics_run_id}.svg",
    ]
    for path in written[1:]:
        assert ET.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert page.network_references() == []


def test_the_history_page_works_after_moving_it_with_its_files(
    loop, tmp_path: Path, read_page
) -> None:  # type: ignore[no-untyped-def]
    first = tmp_path / "a" / "my history.html"
    first.parent.mkdir()
    write_history_page(_report(loop), loop.store, first)
    moved = tmp_path / "b"
    shutil.copytree(first.parent, moved)
    shutil.rmtree(first.parent)
    page = read_page((moved / "my history.html").read_text(encoding="utf-8"))
    sources = [img["src"] for img in page.elements("img")]
    assert sources and all(s.startswith("my%20history-files/") for s in sources)
    from urllib.parse import unquote

    assert all((moved / unquote(s)).is_file() for s in sources)


def test_a_pair_reverted_from_the_document_is_still_in_its_mine_run(loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "reverted.dlm"
    text = loop.document.read_text(encoding="utf-8")
    copy.write_text(
        text[: text.index("::preference::")], encoding="utf-8"
    )  # the mined sections come last
    report = show_report(copy, read_document(copy), loop.store)
    (mine,) = document_history(report, loop.store).mine_runs
    assert {p.where for p in mine.pairs} == {GONE} and len(mine.pairs) == len(loop.mine.mined_pairs)
    assert all(p.chosen is None and p.margin is not None for p in mine.pairs)


def test_dlm_show_html_writes_the_page_and_its_plots(loop, tmp_path: Path, read_page) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "show.html"
    code, out, err = dlm(loop.home, "show", loop.document, "--html", target)
    assert code == 0, err
    assert f"wrote {target} and 3 plots in {tmp_path / 'show-files'}" in err
    assert out.startswith(f"{loop.document}: dlm_id ")  # the usual report still prints
    assert len(read_page(target.read_text(encoding="utf-8")).elements("img")) == 3


def test_without_matplotlib_the_history_page_is_written_without_plots(
    loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_page
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    notes: list[str] = []
    target = tmp_path / "history.html"
    assert write_history_page(_report(loop), loop.store, target, say=notes.append) == [target]
    page = read_page(target.read_text(encoding="utf-8"))
    assert page.elements("img") == [] and "pip install 'dlm-core[plots]'" in page.text
    assert notes and "pip install 'dlm-core[plots]'" in notes[0]
    assert not files_folder(target).exists()


def test_an_untrained_document_still_gets_a_page(
    tiny_doc: Path, dlm_home: Path, tmp_path: Path, read_page
) -> None:
    target = tmp_path / "fresh.html"
    code, _out, err = dlm(dlm_home, "show", tiny_doc, "--html", target)
    assert code == 0, err
    page = read_page(target.read_text(encoding="utf-8"))
    assert "No adapter versions yet" in page.text and "No runs recorded yet." in page.text
