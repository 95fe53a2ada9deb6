"""dlm never runs a model's own Python code.

transformers can load an architecture it does not ship from ``.py`` files
kept with the model (``auto_map`` in its config), after asking "Do you
wish to run the custom code?" on a terminal. A ``.dlm`` document names its
base model, so such code would run because a document said so. Every load
in dlm passes ``trust_remote_code=False``; the error transformers raises
then is turned into one line saying such models are not supported.
"""

from __future__ import annotations

from dlm_core.errors import ModelError


def needs_custom_code(exc: BaseException) -> bool:
    """Whether a loading error is transformers refusing to run the model's own code."""
    return "trust_remote_code" in str(exc)


def custom_code_refused(what: str) -> ModelError:
    """The error for ``what`` (``base model hf:./x (/abs/x)``...) needing its own code."""
    return ModelError(
        f"cannot load {what}: it needs to run its own Python code (auto_map, trust_remote_code), "
        "which dlm never does; such models are not supported, pick one that transformers "
        "supports natively"
    )
