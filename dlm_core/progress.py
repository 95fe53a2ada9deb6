"""Progress bars for long work, shown on a terminal and silent elsewhere.

Plugins ask their context for a bar (:meth:`PluginContext.progress`) instead
of importing tqdm themselves, so one switch (``--quiet``, a test, a script
that reads ``--json``) governs every bar of a command.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol


class ProgressBar(Protocol):
    """What a bar offers: count finished units, then close (or use ``with``)."""

    def update(self, n: int = 1) -> object: ...

    def set_postfix_str(self, text: str) -> object: ...

    def close(self) -> None: ...

    def __enter__(self) -> ProgressBar: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> object: ...


class NoProgress:
    """A bar that shows nothing: for scripts, tests and ``progress=False``."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def progress_bar(
    total: int | None, *, desc: str, unit: str = "it", enabled: bool = True
) -> ProgressBar:
    """A tqdm bar on stderr over ``total`` units (tqdm hides itself off a terminal only
    when asked, so ``enabled`` decides), or a silent one."""
    if not enabled:
        return NoProgress()
    from tqdm import tqdm

    bar: ProgressBar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
    return bar
