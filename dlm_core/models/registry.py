"""Base-model names: registry keys, ``hf:<id>`` and ``hf:<local path>``.

Resolution here is pure string work; loading lives in
:mod:`dlm_core.models.resolve`. The default, ``smollm2-135m``, is the one
base that works with no hub at all (see :mod:`dlm_core.models.embedded`).
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.errors import ModelError
from dlm_core.models.hub import looks_local

DEFAULT_BASE = "smollm2-135m"

REGISTRY: dict[str, str] = {
    "smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "smollm2-360m": "HuggingFaceTB/SmolLM2-360M-Instruct",
    "smollm2-1.7b": "HuggingFaceTB/SmolLM2-1.7B-Instruct",
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
    "llama-3.2-1b": "meta-llama/Llama-3.2-1B-Instruct",
}


@attrs.frozen
class BaseModelRef:
    """What ``base_model:`` names.

    :ivar spec: the text as written in the frontmatter.
    :ivar hub_id: the Hugging Face repository id, for registry keys and ``hf:<id>``.
    :ivar local_path: the folder, for ``hf:<local path>``.
    """

    spec: str
    hub_id: str | None = None
    local_path: Path | None = None

    @property
    def is_embedded_default(self) -> bool:
        return self.spec == DEFAULT_BASE

    @property
    def display(self) -> str:
        return self.spec if self.local_path is None else f"{self.spec} ({self.local_path})"


def parse_base(spec: str, *, relative_to: Path | None = None) -> BaseModelRef:
    """Read a ``base_model:`` value.

    :raises ModelError: for an unknown key, listing the known ones.
    """
    if spec in REGISTRY:
        return BaseModelRef(spec, hub_id=REGISTRY[spec])
    if spec.startswith("hf:"):
        target = spec[3:].strip()
        if not target:
            raise ModelError("base_model 'hf:' needs a model id or a local folder after the colon")
        if looks_local(target, relative_to=relative_to):
            candidate = Path(target).expanduser()
            if not candidate.is_absolute() and relative_to is not None:
                candidate = relative_to / candidate
            return BaseModelRef(spec, local_path=candidate.resolve())
        return BaseModelRef(spec, hub_id=target)
    known = ", ".join(REGISTRY)
    raise ModelError(
        f"unknown base_model {spec!r}; use one of {known}, hf:<org/name> or hf:<local folder>"
    )
