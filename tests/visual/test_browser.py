"""The pages in a real headless browser (chromium): they render, show their text, and fetch nothing.

Skipped where chromium is missing, except under CI, where that is a failure
(``scripts/ci-browser.sh`` installs it). Each screenshot is kept in
``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from dlm_core.document.io import read_document
from dlm_core.report import show_report
from dlm_core.visual.metrics_plot import plot_metrics
from dlm_core.visual.pages import compare_page, write_history_page


def _pages(loop, folder: Path) -> dict[str, tuple[Path, list[str]]]:  # type: ignore[no-untyped-def]
    """Each page, and texts the browser must show on it."""
    folder.mkdir()
    metrics = folder / "metrics.html"
    figures = plot_metrics(loop.store.metrics_path, metrics, title="notes.dlm: metrics")
    compare = folder / "compare.html"
    compare.write_text(compare_page(loop.compare), encoding="utf-8")
    history = folder / "history.html"
    write_history_page(
        show_report(loop.document, read_document(loop.document), loop.store), loop.store, history
    )
    return {
        "metrics": (metrics, [f.caption for f in figures]),
        "compare": (
            compare,
            [f"compare run {loop.compare.run_id}", *(i.prompt for i in loop.compare.items)],
        ),
        "history": (
            history,
            [
                f"Mine run {loop.mine.run_id}",
                "v0002 (current)",
                *(p.prompt for p in loop.mine.mined_pairs),
            ],
        ),
    }


def _assert_not_blank(screenshot: Path, window: tuple[int, int]) -> None:
    with Image.open(screenshot) as image:
        image.load()
        assert image.format == "PNG" and image.size == window
        gray = image.convert("L").histogram()
        inked = sum(gray[:200]) / (window[0] * window[1])
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert inked > 0.01, f"only {inked:.2%} of the screenshot is not white"
    assert len(colours) > 16


@pytest.mark.parametrize("name", ["metrics", "compare", "history"])
def test_the_page_renders_in_a_real_browser_and_fetches_nothing(  # type: ignore[no-untyped-def]
    chromium: str, name: str, loop, tmp_path: Path, browse, read_page, artifacts: Path
) -> None:  # chromium first: without it, skip before the loop is trained
    page, expected = _pages(loop, tmp_path / "pages")[name]
    visit = browse(page)
    _assert_not_blank(visit.screenshot, visit.window)
    shutil.copyfile(visit.screenshot, artifacts / f"visual-{name}-page.png")
    dom = read_page(visit.dom)
    for text in expected:
        assert " ".join(text.split()) in dom.text, text
    assert dom.elements("script") == []  # escaped markup stayed text
    assert visit.requests == []
    assert read_page(page.read_text(encoding="utf-8")).network_references() == []


def test_the_network_check_notices_a_page_that_fetches(tmp_path: Path, browse, read_page) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><p>Hello</p><img src="https://example.invalid/pixel.png">', encoding="utf-8"
    )
    visit = browse(page)
    assert visit.requests == ["https://example.invalid/pixel.png"]
    assert read_page(page.read_text(encoding="utf-8")).network_references()
