"""Fixtures for the export tests: a trained document in a real store, and llama.cpp's converters.

``trained_doc`` is the tiny test document with one adapter version in its
store (a real PEFT LoRA with random weights, so merged and unmerged models
differ). ``with_tools`` is a fresh ``DLM_HOME`` whose ``tools/`` links to
llama.cpp's converters, fetched once into the test cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dlm_core.document.io import read_document
from dlm_core.store.store import Store
from dlm_core.testing import link_llamacpp_tools, tiny_document_text

MINED_PAIR = """
::preference::
<!-- dlm-auto-mined: judge_name="sway" judge_score_chosen="0.8" judge_score_rejected="0.1" mined_at="2026-04-23T18:42:11Z" mined_run_id="3" -->
### Prompt
Can we call a release amazing?
### Chosen
No. Describe the change.
### Rejected
Absolutely! Amazing releases deserve amazing words!

::preference::
### Prompt
What goes first?
### Chosen
Breaking changes.
### Rejected
A fun story about the release.
"""


@pytest.fixture
def export_home(dlm_home: Path) -> Path:
    """A fresh DLM_HOME."""
    return dlm_home


@pytest.fixture
def with_tools(export_home: Path) -> Path:
    """``export_home`` with llama.cpp's converters linked in from the test cache."""
    return link_llamacpp_tools(export_home)


def add_version(home: Path, document_path: Path, adapter: Path) -> Path:
    """Put ``adapter`` into the document's store as its next, current version."""
    document = read_document(document_path)
    assert document.dlm_id is not None and document.frontmatter is not None
    store = Store(home, document.dlm_id)
    store.ensure(document_path, document.frontmatter.base_model)
    with store.new_version() as (_number, folder):
        for item in adapter.iterdir():
            if item.is_file():
                shutil.copy2(item, folder / item.name)
    version = store.versions()[-1]
    store.set_current(version)
    return version.path


@pytest.fixture
def trained_doc(tmp_path: Path, export_home: Path, tiny_base: Path, tiny_adapter: Path) -> Path:
    """The tiny document, with a mined and a hand-written preference pair, trained once."""
    path = tmp_path / "notes.dlm"
    path.write_text(tiny_document_text(tiny_base) + MINED_PAIR, encoding="utf-8")
    add_version(export_home, path, tiny_adapter)
    return path
