"""GPU throughput: LoRA SFT and DPO tokens/s and MFU, and the sampler batched vs one at a time.

Runs on a CUDA machine with no network: the model is SmolLM2-1.7B-shaped
with random weights (bf16), the rows are random token ids, and the
tokenizer is only needed for its special ids (``--tokenizer``, default the
embedded base under ``$DLM_HOME`` or the test cache). Everything goes
through dlm's own code: the session, the installed TRL trainer plugin and
the hf sampler plugin. A plain PEFT training loop on the same model and
batch is timed first, as the baseline the trainer is measured against.

    python bench/gpu.py [--steps 20] [--batch 4] [--seq 1024] [--tiny]

MFU counts 6 x parameters x tokens plus attention (12 x layers x hidden x
sequence per token), the usual model-FLOPs convention, against the card's
dense bf16 peak; ``mfu_lora`` counts 4 x parameters instead (LoRA computes
no gradient for the frozen weights). ``--tiny`` runs a small model on any
device, to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

PEAK_BF16 = {
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10": 125e12,
    "L4": 121e12,
}


def peak_flops(name: str) -> float | None:
    if "PCIe" in name and "H100" in name:
        return 756e12
    for key, value in PEAK_BF16.items():
        if key in name:
            return value
    return None


def model_config(tiny: bool, vocab: int, special: dict[str, int]) -> Any:
    from transformers import LlamaConfig

    shape = (
        dict(
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
        )
        if tiny
        else dict(
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=24,
            num_attention_heads=32,
            num_key_value_heads=32,
        )
    )
    return LlamaConfig(
        vocab_size=vocab,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        rope_theta=130000,
        **shape,
        **special,
    )


def find_tokenizer(explicit: str | None) -> Path:
    candidates = [explicit] if explicit else []
    home = Path(os.environ.get("DLM_HOME", Path.home() / ".dlm"))
    candidates += [
        str(home / "bases" / "smollm2-135m"),
        str(Path.home() / ".cache" / "dlm-test" / "tiny-smollm2"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "tokenizer.json").exists():
            return Path(candidate)
    raise SystemExit(
        "no tokenizer found: pass --tokenizer DIR (a folder with SmolLM2's tokenizer.json)"
    )


def flops_per_token(params: int, config: Any, seq: int, factor: int) -> float:
    return factor * params + 12 * config.num_hidden_layers * config.hidden_size * seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument(
        "--samples", type=int, default=8, help="prompts x this many samples for the sampler"
    )
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--tokenizer")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dlm_core.context import PluginContext
    from dlm_core.document.model import Document
    from dlm_core.models.registry import parse_base
    from dlm_core.models.session import ModelSession
    from dlm_core.plugins import PluginHost
    from dlm_core.protocols import LmRow, LoraSettings, PreferenceRow, TrainJob, TrainSettings

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    peak = peak_flops(name) if cuda else None
    tokenizer_dir = find_tokenizer(args.tokenizer)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, trust_remote_code=False)
    special = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
    }
    config = model_config(args.tiny, len(tokenizer), special)
    workdir = Path(tempfile.mkdtemp(prefix="dlm-gpu-bench-"))
    base_dir = workdir / "base"
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config, dtype=dtype, trust_remote_code=False).save_pretrained(
        base_dir
    )
    tokenizer.save_pretrained(base_dir)
    report: dict[str, Any] = {
        "device": name,
        "dtype": str(dtype),
        "peak_bf16_flops": peak,
        "batch": args.batch,
        "seq": args.seq,
    }

    # -- baseline: a plain PEFT loop ------------------------------------------------
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype, trust_remote_code=False).to(
        device
    )
    params = sum(p.numel() for p in model.parameters())
    report["parameters"] = params
    lora = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.05,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=2e-4)
    ids = torch.randint(100, len(tokenizer) - 100, (args.batch, args.seq), device=device)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for step in range(args.steps + 3):
        if step == 3:
            sync()
            clock = time.perf_counter()
        loss = peft_model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync()
    seconds = time.perf_counter() - clock
    tokens = args.steps * args.batch * args.seq
    report["plain_peft_sft"] = measured(tokens, seconds, params, config, args.seq, peak)
    del peft_model, model, optimizer
    if cuda:
        torch.cuda.empty_cache()

    # -- dlm's trainers through the plugin ------------------------------------------
    host = PluginHost.discover()
    session = ModelSession(
        parse_base(f"hf:{base_dir}"), home=workdir, device=device, say=lambda _m: None
    )
    document = Document()
    # The plain loop runs in the session dtype; on a CPU, keep dlm from switching to bf16 autocast.
    options = {} if cuda else {"precision": "fp32"}
    context = PluginContext(
        document=document,
        document_path=None,
        base=session.base,
        adapter_path=None,
        home=workdir,
        session=session,
        device=device,
        options=options,
    )
    rows = [
        LmRow(ids[i % args.batch].tolist(), [1] * args.seq, "bench")
        for i in range(args.batch * args.steps)
    ]
    settings = TrainSettings(
        learning_rate=2e-4,
        num_epochs=1,
        batch_size=args.batch,
        sequence_len=args.seq,
        warmup_ratio=0.0,
    )
    sft_dir = workdir / "sft"
    job = TrainJob(
        phase="sft",
        method="sft",
        session=session,
        output_dir=sft_dir,
        settings=settings,
        lora=LoraSettings(),
        seed=0,
        lm_rows=rows,
        progress=False,
    )
    result = host.trainer("sft", context).train(job)
    train_seconds = float(result.extra.get("train_seconds", 0.0)) or None
    report["dlm_sft"] = measured(
        result.tokens, train_seconds or 1.0, params, config, args.seq, peak
    )

    half = args.seq // 2
    pairs = [
        PreferenceRow(
            None,
            "p",
            "c",
            "r",
            ids[i % args.batch, :half].tolist(),
            ids[(i + 1) % args.batch, half:].tolist(),
            ids[(i + 2) % args.batch, half:].tolist(),
        )
        for i in range(args.batch * args.steps)
    ]
    dpo_settings = TrainSettings(
        learning_rate=5e-6,
        num_epochs=1,
        batch_size=max(1, args.batch // 2),
        sequence_len=args.seq,
        warmup_ratio=0.0,
    )
    dpo_job = TrainJob(
        phase="preference",
        method="dpo",
        session=session,
        output_dir=workdir / "dpo",
        settings=dpo_settings,
        lora=LoraSettings(),
        seed=0,
        preference_rows=pairs,
        start_adapter=sft_dir,
        progress=False,
    )
    dpo = host.trainer("dpo", context).train(dpo_job)
    dpo_seconds = float(dpo.extra.get("train_seconds", 0.0)) or 1.0
    report["dlm_dpo"] = measured(dpo.tokens, dpo_seconds, params, config, args.seq, peak)

    # -- sampler: batched vs one prompt and one sample per call ---------------------
    sample_context = PluginContext(
        document=document,
        document_path=None,
        base=session.base,
        adapter_path=sft_dir,
        home=workdir,
        device=device,
    )
    sampler = host.sampler("hf", sample_context)
    prompts = [f"Question {i}: describe release {i} in one line." for i in range(8)]
    sampler.sample(prompts[:1], 1, temperature=0.7, top_p=None, max_new_tokens=4, seed=0)
    sync()
    clock = time.perf_counter()
    sampler.sample(
        prompts, args.samples, temperature=0.7, top_p=None, max_new_tokens=args.new_tokens, seed=0
    )
    sync()
    batched_seconds, batched_tokens = time.perf_counter() - clock, sampler.generated_tokens
    single_seconds, single_tokens = 0.0, 0
    for prompt in prompts[:2]:
        for sample in range(2):
            clock = time.perf_counter()
            sampler.sample(
                [prompt],
                1,
                temperature=0.7,
                top_p=None,
                max_new_tokens=args.new_tokens,
                seed=sample,
            )
            sync()
            single_seconds += time.perf_counter() - clock
            single_tokens += sampler.generated_tokens
    report["sampler_batched_tokens_per_second"] = round(batched_tokens / batched_seconds, 1)
    report["sampler_one_at_a_time_tokens_per_second"] = round(single_tokens / single_seconds, 1)
    report["sampler_speedup"] = round(
        report["sampler_batched_tokens_per_second"]
        / report["sampler_one_at_a_time_tokens_per_second"],
        2,
    )
    print(json.dumps(report, indent=2))


def measured(
    tokens: int, seconds: float, params: int, config: Any, seq: int, peak: float | None
) -> dict[str, Any]:
    rate = tokens / seconds
    out: dict[str, Any] = {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(rate, 1),
    }
    if peak:
        out["mfu"] = round(rate * flops_per_token(params, config, seq, 6) / peak, 4)
        out["mfu_lora"] = round(rate * flops_per_token(params, config, seq, 4) / peak, 4)
    return out


if __name__ == "__main__":
    main()
