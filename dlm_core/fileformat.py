"""One cattrs converter for every file dlm writes (JSON and TOML).

Values that cross a file boundary are attrs classes; this module turns them
into plain data and back, with unknown keys tolerated on read so an older
dlm can open a newer store.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cattrs
import tomli_w

from dlm_core.atomic import write_text_atomic
from dlm_core.errors import StoreError

T = TypeVar("T")

converter = cattrs.Converter(omit_if_default=False)
converter.register_unstructure_hook(Path, str)
converter.register_structure_hook(Path, lambda value, _t: Path(value))


def _drop_none(value: Any) -> Any:
    """TOML has no null: leave None values out (they come back as defaults)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def write_json(path: Path, value: Any) -> None:
    write_text_atomic(
        path, json.dumps(converter.unstructure(value), indent=2, ensure_ascii=False) + "\n"
    )


class DamagedFile(StoreError):
    """A store file that does not read as what it should be."""


def _describe(cls: type) -> str:
    """``StagedPlan`` → ``staged plan``: the class name in the user's words."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()


def _load(path: Path, cls: type[T], parse: Callable[[Path], Any]) -> T:
    try:
        return converter.structure(parse(path), cls)
    except cattrs.BaseValidationError as exc:
        problem = "; ".join(cattrs.transform_error(exc))
    except (OSError, ValueError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        problem = str(exc)
    raise DamagedFile(
        f"{path}: not a readable {_describe(cls)} ({problem}); move it out of the way"
    )


def read_json(path: Path, cls: type[T]) -> T:
    """Read a JSON file as ``cls``; a damaged file is a :class:`DamagedFile` naming it."""
    return _load(path, cls, lambda p: json.loads(p.read_text(encoding="utf-8")))


def write_toml(path: Path, value: Any) -> None:
    write_text_atomic(path, tomli_w.dumps(_drop_none(converter.unstructure(value))))


def read_toml(path: Path, cls: type[T]) -> T:
    """Read a TOML file as ``cls``; a damaged file is a :class:`DamagedFile` naming it."""
    return _load(path, cls, lambda p: tomllib.loads(p.read_text(encoding="utf-8")))
