"""A store for one document in an empty ``DLM_HOME``."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.store.store import Store

DLM_ID = "01KPM5CXB51GRX86Q25AKERN6E"


@pytest.fixture
def store(dlm_home: Path, tmp_path: Path) -> Store:
    document = tmp_path / "notes.dlm"
    document.write_text(f"---\ndlm_id: {DLM_ID}\n---\nShort, factual and low-drama.\n")
    store = Store(dlm_home, DLM_ID)
    store.ensure(document, "smollm2-135m")
    return store
