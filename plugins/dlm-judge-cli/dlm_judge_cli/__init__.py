"""The ``cli`` judge: any external command scores mined candidates.

``--judge cli:<command>`` runs the command once per candidate, with
``{"prompt": ..., "candidate": ...}`` as JSON on its stdin, and reads
``{"score": <number>, "reasoning": <optional string>}`` from its stdout
(see :mod:`dlm_judge_cli.judge` for the whole contract). The command is
split like a shell would (``shlex``) but never run through a shell.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from dlm_core.api import JudgeError, JudgeSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import PluginContext
    from dlm_judge_cli.judge import CommandJudge

__version__ = "0.1.0"

DEFAULT_TIMEOUT = 30.0


@hookimpl
def dlm_judges() -> list[JudgeSpec]:
    return [
        JudgeSpec(
            name="cli",
            factory=make_judge,
            description='an external command: JSON on stdin, {"score": N} on stdout: --judge cli:<command>',
        )
    ]


def make_judge(context: PluginContext, argument: str | None) -> CommandJudge:
    """Build the judge for ``--judge cli:<command>``.

    The program is looked up now, so a typo fails before any sampling. The
    time limit per candidate is ``context.options["judge_timeout"]``
    (seconds, default 30).

    :raises JudgeError: no command, a command that does not parse, a program
        that is missing or not executable, or a bad time limit.
    """
    from dlm_judge_cli.judge import CommandJudge

    command = (argument or "").strip()
    if not command:
        raise JudgeError(
            "judge 'cli' needs a command: use --judge 'cli:<command>', "
            "e.g. --judge 'cli:python3 my_judge.py'"
        )
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise JudgeError(f"cannot read judge command {command!r}: {exc}") from None
    if not argv:
        raise JudgeError(f"judge command {command!r} names no program")
    _check_program(command, argv[0])
    timeout = context.options.get("judge_timeout")
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise JudgeError(f"judge_timeout must be a positive number of seconds, got {timeout!r}")
    return CommandJudge(command, argv, timeout=float(timeout))


def _check_program(command: str, program: str) -> None:
    where = f"cannot start judge command {command!r}"
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(program)
        if not path.exists():
            raise JudgeError(f"{where}: {program} does not exist")
        if path.is_dir():
            raise JudgeError(f"{where}: {program} is a folder")
        if not os.access(path, os.X_OK):
            raise JudgeError(
                f"{where}: {program} is not executable; chmod +x it, "
                f"or run it through its interpreter (cli:python3 {program})"
            )
    elif shutil.which(program) is None:
        raise JudgeError(f"{where}: {program!r} is not found on PATH")
