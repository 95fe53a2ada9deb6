"""The public API for plugin authors: everything a sampler, judge, trainer or
section-type plugin may import from dlm, in one flat namespace.

``from dlm_core.api import hookimpl, JudgeSpec, PluginContext, JudgeError``.
Names outside this module are dlm's internals and may change in any
release; a meta-test keeps the first-party plugins and ``contrib/`` on this
namespace alone, as a third party's package would be. docs/plugins.md
documents each name.
"""

from __future__ import annotations

from dlm_core import __version__, hookimpl
from dlm_core.context import PluginContext
from dlm_core.document.model import Document, Section
from dlm_core.document.types import (
    BuiltinSectionType,
    ChatExample,
    PreferenceExample,
    SectionType,
    TextExample,
)
from dlm_core.errors import (
    DlmError,
    ExportError,
    JudgeError,
    MiningError,
    ModelError,
    PluginError,
    SamplerError,
    TrainingError,
)
from dlm_core.export.cache import adapter_gguf
from dlm_core.mining.prompts import reference_answers
from dlm_core.mining.selection import normalize as normalize_text
from dlm_core.models.chat import ChatFormat
from dlm_core.models.hub import hub_offline, looks_local, why_unavailable
from dlm_core.models.session import ModelSession, cpu_has_native_bf16, pick_device
from dlm_core.progress import ProgressBar
from dlm_core.protocols import (
    DEFAULT_LORA_TARGETS,
    Judge,
    LmRow,
    LoraSettings,
    NamesItsModel,
    PlansBatches,
    PreferenceRow,
    Sample,
    Sampler,
    StepLog,
    Trainer,
    TrainJob,
    TrainResult,
    TrainSettings,
    check_sample_arguments,
    generated_tokens,
    is_truncated,
)
from dlm_core.specs import JudgeSpec, SamplerSpec, SectionTypeSpec, TrainerSpec

__all__ = [
    "DEFAULT_LORA_TARGETS",
    "BuiltinSectionType",
    "ChatExample",
    "ChatFormat",
    "DlmError",
    "Document",
    "ExportError",
    "Judge",
    "JudgeError",
    "JudgeSpec",
    "LmRow",
    "LoraSettings",
    "MiningError",
    "ModelError",
    "ModelSession",
    "NamesItsModel",
    "PlansBatches",
    "PluginContext",
    "PluginError",
    "PreferenceExample",
    "PreferenceRow",
    "ProgressBar",
    "Sample",
    "Sampler",
    "SamplerError",
    "SamplerSpec",
    "Section",
    "SectionType",
    "SectionTypeSpec",
    "StepLog",
    "TextExample",
    "TrainJob",
    "TrainResult",
    "TrainSettings",
    "Trainer",
    "TrainerSpec",
    "TrainingError",
    "__version__",
    "adapter_gguf",
    "check_sample_arguments",
    "cpu_has_native_bf16",
    "generated_tokens",
    "hookimpl",
    "hub_offline",
    "is_truncated",
    "looks_local",
    "normalize_text",
    "pick_device",
    "reference_answers",
    "why_unavailable",
]
