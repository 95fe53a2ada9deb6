"""One GGUF per adapter version, converted on first use and kept in the store.

The llama.cpp sampler runs the adapter merged into its base as a GGUF.
Converting takes a while, so the file is kept: for an adapter version in a
store, under ``<store>/cache/gguf/<vNNNN>-<quant>-<key>/``; for any other adapter
folder (or the bare base), under ``$DLM_HOME/cache/gguf/``. The key is a
hash of the adapter's files, the base and the converter version, so a
changed adapter never reuses a stale file. The folder is written whole under
a temporary name and renamed, so a reader finds a complete file or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from dlm_core.context import PluginContext
from dlm_core.downloads import file_sha256
from dlm_core.export.gguf import QUANTS, hf_to_gguf
from dlm_core.export.hf import export_hf
from dlm_core.export.llamacpp import LLAMA_CPP_PYTHON, ensure_tools, library_version


def cache_key(base_path: str, adapter: Path | None, quant: str) -> str:
    """A hash of everything the converted file depends on."""
    digest = hashlib.sha256(f"{LLAMA_CPP_PYTHON}\x00{quant}\x00{base_path}".encode())
    if adapter is not None:
        for path in sorted(adapter.iterdir()):
            if path.is_file() and path.name.startswith("adapter_"):
                digest.update(f"\x00{path.name}\x00{file_sha256(path)}".encode())
    return digest.hexdigest()[:16]


def cache_root(home: Path, adapter: Path | None) -> tuple[Path, str]:
    """Where the GGUFs of ``adapter`` live, and the folder-name prefix that says which version."""
    if adapter is not None:
        store_root = adapter.parent.parent
        if adapter.parent.name == "adapters" and (store_root / "manifest.json").is_file():
            return store_root / "cache" / "gguf", adapter.name
        return home / "cache" / "gguf", "adapter"
    return home / "cache" / "gguf", "base"


def cached_gguf(
    base_path: str,
    adapter: Path | None,
    *,
    home: Path,
    quant: str = "f16",
    say: Callable[[str], None] = print,
) -> Path:
    """The merged GGUF of ``adapter`` on its base at ``quant``, converted on first use."""
    if quant not in QUANTS:
        raise ValueError(f"quant must be one of {', '.join(QUANTS)}, not {quant!r}")
    library_version()
    root, prefix = cache_root(home, adapter)
    folder = root / f"{prefix}-{quant}-{cache_key(base_path, adapter, quant)}"
    model = folder / f"model-{quant}.gguf"
    if model.is_file():
        return model
    tools = ensure_tools(home, say)
    root.mkdir(parents=True, exist_ok=True)
    say(f"converting {prefix} to GGUF ({quant}) for llama.cpp, once...")
    with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as scratch_name:
        scratch = Path(scratch_name)
        hf_dir = scratch / "hf"
        # The sampler feeds token ids itself: the GGUF's chat template is never used here.
        export_hf(base_path, adapter, hf_dir, system_prompt=None, say=lambda _m: None)
        built = scratch / "out"
        built.mkdir()
        hf_to_gguf(tools, hf_dir, built / model.name, quant, scratch)
        built.chmod(0o755)
        try:
            os.rename(built, folder)
        except OSError:
            if not model.is_file():  # not a concurrent build that finished first
                raise
    if prefix.startswith("v"):  # a store version: an older conversion of it is stale
        _drop_stale(root, f"{prefix}-{quant}-", keep=folder)
    return model


def _drop_stale(root: Path, prefix: str, *, keep: Path) -> None:
    for stale in root.glob(f"{prefix}*"):
        if stale != keep and stale.is_dir():
            with contextlib.suppress(OSError):
                shutil.rmtree(stale)


def adapter_gguf(context: PluginContext, quant: str = "f16") -> Path:
    """The GGUF of the context's base with its current adapter merged in, cached per version.

    For plugins that run the document's model in llama.cpp (the ``llamacpp``
    sampler); converts on first use (tens of seconds), then costs nothing.
    """
    return cached_gguf(
        context.session.base_path,
        context.adapter_path,
        home=context.home,
        quant=quant,
        say=context.say,
    )
