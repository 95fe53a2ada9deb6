"""llama.cpp's own converters and quantizer, used as they ship.

The ``llama-cpp-python`` wheel carries the compiled library (and so the
quantizer, ``llama_cpp.llama_model_quantize``) but not llama.cpp's Python
converters. Its sdist vendors the whole llama.cpp tree, so the converters
and the ``gguf-py`` they were written against are fetched from there, once:
``pip download`` of that one sdist, a sha256 check, and only the converter
files extracted into ``$DLM_HOME/tools/llama.cpp-<version>/``. Converters
run in a subprocess with that ``gguf-py`` first on the path (the ``gguf``
package on PyPI may lag the converter). The version is the one the
installed library was built from, so the files the converter writes are the
files the library reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dlm_core.downloads import DownloadFailed, file_sha256, pip_download
from dlm_core.errors import ExportError

LLAMA_CPP_PYTHON = "0.3.36"
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
SDIST_ENV = "DLM_LLAMA_CPP_SDIST"
"""A local copy of the sdist to use instead of fetching it (an offline machine)."""

VENDOR = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
MEMBERS = (
    "LICENSE",
    "convert_hf_to_gguf.py",
    "convert_lora_to_gguf.py",
    "conversion/",
    "gguf-py/LICENSE",
    "gguf-py/gguf/",
    "models/templates/",
)
READY_MARKER = "dlm-tools.json"

QUANT_TYPES = {"q8_0": 7, "q4_k_m": 15}
"""``--quant`` names to llama.cpp's ``llama_ftype`` values (LLAMA_FTYPE_MOSTLY_*)."""

SAFE_SERVER_MODULE = "dlm_core.export.llamacpp_server"
"""``python -m`` this to run ``llama_cpp.server`` with :func:`without_extra_buffers`."""

INSTALL_HINT = (
    f"install llama-cpp-python=={LLAMA_CPP_PYTHON} (it comes with the dlm-sampler-llamacpp plugin)"
)


def tools_dir(home: Path) -> Path:
    return home / "tools" / f"llama.cpp-{LLAMA_CPP_PYTHON}"


def library_version() -> str:
    """The installed llama-cpp-python's version, checked against the converters'."""
    try:
        import llama_cpp
    except ImportError:
        raise ExportError(f"GGUF export needs llama.cpp's library; {INSTALL_HINT}") from None
    version = str(llama_cpp.__version__)
    if version != LLAMA_CPP_PYTHON:
        raise ExportError(
            f"llama-cpp-python {version} is installed, but dlm's GGUF export uses the converters "
            f"of {LLAMA_CPP_PYTHON}; {INSTALL_HINT}"
        )
    return version


def fetch_sdist(dest: Path) -> Path:
    """The llama-cpp-python sdist in ``dest`` (``$DLM_LLAMA_CPP_SDIST`` or ``pip download``), checked."""
    local = os.environ.get(SDIST_ENV)
    if local:
        sdist = Path(local).expanduser()
        if not sdist.is_file():
            raise ExportError(
                f"{SDIST_ENV}={local} is not a file; unset it or point it at {SDIST_NAME}"
            )
    else:
        requirement = f"llama-cpp-python=={LLAMA_CPP_PYTHON}"
        try:
            sdist = pip_download(requirement, dest, SDIST_NAME, binary=False)
        except DownloadFailed as failed:
            raise ExportError(
                f"could not fetch llama.cpp's converters ({SDIST_NAME}) from the package index "
                f"({failed.last_line}); set {SDIST_ENV} to a downloaded copy"
            ) from None
    if file_sha256(sdist) != SDIST_SHA256:
        raise ExportError(
            f"{sdist} does not match the known sha256 of {SDIST_NAME}; refusing to use it"
        )
    return sdist


def _wanted(name: str) -> str | None:
    """The path below llama.cpp's root of an sdist member to extract, or None."""
    if not name.startswith(VENDOR):
        return None
    inner = name[len(VENDOR) :]
    for member in MEMBERS:
        if inner == member or (member.endswith("/") and inner.startswith(member)):
            return inner
    return None


def ensure_tools(home: Path, say: Callable[[str], None] = print) -> Path:
    """llama.cpp's converters and gguf-py under ``$DLM_HOME/tools``, fetched on first use."""
    target = tools_dir(home)
    if (target / READY_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as scratch_name:
        scratch = Path(scratch_name)
        say(f"fetching llama.cpp's converters ({SDIST_NAME}, once)...")
        sdist = fetch_sdist(scratch)
        out = scratch / "tools"
        with tarfile.open(sdist, "r:gz") as archive:
            for member in archive.getmembers():
                inner = _wanted(member.name)
                if inner is None or not (member.isfile() or member.isdir()):
                    continue
                member.name = inner
                archive.extract(member, out, filter="data")
        if not (out / "convert_hf_to_gguf.py").is_file():
            raise ExportError(
                f"{SDIST_NAME} holds no convert_hf_to_gguf.py; cannot convert to GGUF"
            )
        (out / READY_MARKER).write_text(
            json.dumps({"source": SDIST_NAME, "sha256": SDIST_SHA256}) + "\n", encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        os.rename(out, target)
    return target


def run_converter(tools: Path, script: str, args: list[str], *, what: str) -> None:
    """Run one of llama.cpp's converters on its own gguf-py; its log becomes the error when it fails."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tools / "gguf-py"), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",  # every input is a local folder
    }
    env.pop("NO_LOCAL_GGUF", None)
    result = subprocess.run(
        [sys.executable, str(tools / script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tools,
    )
    if result.returncode != 0:
        lines = [
            line for line in (result.stderr or result.stdout).strip().splitlines() if line.strip()
        ]
        errors = [line for line in lines if "Error" in line or "error" in line.lower()]
        reason = (errors or lines or ["no output"])[-1].strip()
        raise ExportError(f"llama.cpp's {script} could not convert {what}: {reason}")


def quantize(source: Path, target: Path, quant: str, *, threads: int | None = None) -> None:
    """``source`` (a 16- or 32-bit GGUF) quantized to ``quant`` by llama.cpp's own quantizer."""
    library_version()
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    params.nthread = threads or 0
    status = llama_cpp.llama_model_quantize(
        str(source).encode("utf-8"), str(target).encode("utf-8"), ctypes.byref(params)
    )
    if status != 0 or not target.is_file():
        raise ExportError(
            f"llama.cpp could not quantize {source.name} to {quant} (status {status})"
        )


@contextlib.contextmanager
def without_extra_buffers() -> Iterator[None]:
    """Within this block, ``llama_cpp.Llama`` loads models without llama.cpp's extra CPU buffers.

    The extra buffer types (AMX tiles, weights repacked for the CPU) are
    where llama.cpp puts quantized weights on CPUs that have them, and its
    AMX path kills the process with a segmentation fault on some Intel
    Sapphire Rapids CPUs (ggml-org/llama.cpp#20824). Measured on one such
    machine with llama-cpp-python 0.3.36 built for it: a q8_0 GGUF of the
    default base crashes at its first decode with them and runs without.
    Everything dlm loads in llama.cpp is small enough that the plain CPU
    path costs little. (The ``llamacpp`` sampler, which loads through the
    low-level API, sets ``use_extra_bufts = False`` itself.)
    """
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params

    def params() -> Any:
        made = original()
        made.use_extra_bufts = False
        return made

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = original
