"""Lending the session's base model to a trainer, and taking it back as it was.

A trainer wraps the shared base in place: PEFT injects LoRA layers, freezes
the weights and leaves a ``peft_config``; TRL sets dropouts, tags the model,
patches its ``forward`` and mirrors the pad token into the configs; training
turns the KV cache off. :func:`lent_base_model` records what it can see of
the model before the run and puts all of it back however the run ends, so
the next phase (or the sampler) in the same command starts from the bare
base. Trainer plugins get this through :meth:`ModelSession.lend_base`; none
of them carries its own copy of the surgery.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dlm_core.errors import TrainingError
from dlm_core.models.converted import stale_gguf_quantizer

# What transformers sets on a model loaded with a quantizer, as a bare model has it.
_UNQUANTIZED = {"hf_quantizer": None, "is_quantized": False, "quantization_method": None}


def has_adapter_layers(model: Any) -> bool:
    """Whether PEFT has injected adapter layers into ``model``."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(isinstance(m, BaseTunerLayer) for m in model.modules())


def strip_adapter_layers(model: Any) -> None:
    """Put each wrapped layer's original module back (PEFT's unload, with or without a PeftModel)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, BaseTunerLayer) and name:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            if getattr(parent, child, None) is module:
                original = module.get_base_layer()  # type: ignore[union-attr]  # peft is untyped
                setattr(parent, child, original)


@contextlib.contextmanager
def lent_base_model(base: Any) -> Iterator[Any]:
    """Lend ``base`` for the block and restore it afterwards (see the module docstring).

    :raises TrainingError: when the base already carries adapter layers (the
        session's adapter was loaded onto it): training needs a bare base.
    """
    import torch

    if has_adapter_layers(base):
        raise TrainingError(
            "the session's base model already carries adapter layers (was the session's adapter "
            "loaded before training?); train on a session whose base model is still bare"
        )
    attributes = set(vars(base))
    requires_grad = {name: p.requires_grad for name, p in base.named_parameters()}
    dropouts = {name: m.p for name, m in base.named_modules() if isinstance(m, torch.nn.Dropout)}
    configs = [
        c
        for c in (getattr(base, "config", None), getattr(base, "generation_config", None))
        if c is not None
    ]
    config_values = [dict(vars(c)) for c in configs]
    training = base.training
    # A quantizer that packs nothing would make the Trainer refuse the model: set it aside.
    unquantize = _UNQUANTIZED if stale_gguf_quantizer(base) is not None else {}
    quantization = {name: getattr(base, name, None) for name in unquantize}
    try:
        for name, value in unquantize.items():
            setattr(base, name, value)
        yield base
    finally:
        strip_adapter_layers(base)
        for name in set(vars(base)) - attributes:
            delattr(base, name)
        for name, param in base.named_parameters():
            param.requires_grad_(requires_grad.get(name, param.requires_grad))
        for name, module in base.named_modules():
            if name in dropouts and isinstance(module, torch.nn.Dropout):
                module.p = dropouts[name]
        for config, values in zip(configs, config_values, strict=True):
            vars(config).clear()
            vars(config).update(values)
        base.train(training)
        for name, value in quantization.items():
            setattr(base, name, value)
