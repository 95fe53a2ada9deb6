"""``dlm export`` mechanics on the tiny base: what each target writes, the manifest, safe writing.

The model is the tiny random Llama with SmolLM2's real tokenizer and a real
random PEFT LoRA in a real store, so a merge that dropped the adapter would
show. GGUF files are written and read back by llama.cpp itself.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli
from dlm_core.errors import ExportError, StoreError
from dlm_core.export import ExportOptions, export_document
from dlm_core.plugins import PluginHost
from dlm_core.workspace import Workspace

SYSTEM = "You are concise."
PROBE = "How should release notes read?"


def run(doc: Path, home: Path, host: PluginHost, **options: object):  # type: ignore[no-untyped-def]
    return export_document(
        Workspace(home, host, say=lambda _m: None), doc, ExportOptions(progress=False, **options)
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- hf -------------------------------------------------------------------


def test_hf_export_is_the_adapter_merged_into_its_base(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost, tiny_base: Path, tiny_adapter: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = run(trained_doc, export_home, dlm_host, target="hf", out=export_home / "hf")
    exported = AutoModelForCausalLM.from_pretrained(result.out)
    reference = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base), str(tiny_adapter)
    )
    bare = AutoModelForCausalLM.from_pretrained(tiny_base)
    ids = torch.tensor([[1, 504, 2355, 314, 253, 1345, 30, 2]])
    with torch.no_grad():
        merged, unmerged, base = (m(ids).logits for m in (exported, reference, bare))
    assert torch.allclose(merged, unmerged, atol=1e-4)
    assert not torch.allclose(merged, base, atol=1e-3)  # the adapter really changes the model
    assert "model.safetensors" in result.files


def test_hf_export_chat_template_puts_the_document_system_prompt_first(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost, tiny_base: Path
) -> None:
    from transformers import AutoTokenizer

    from dlm_core.models.chat import ChatFormat

    result = run(trained_doc, export_home, dlm_host, target="hf", out=export_home / "hf")
    exported = AutoTokenizer.from_pretrained(result.out)
    expected = ChatFormat(AutoTokenizer.from_pretrained(tiny_base), SYSTEM).prompt_text(PROBE)
    rendered = exported.apply_chat_template(
        [{"role": "user", "content": PROBE}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == expected
    assert SYSTEM in rendered
    own = exported.apply_chat_template(
        [{"role": "system", "content": "Other."}, {"role": "user", "content": PROBE}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert "Other." in own and SYSTEM not in own  # a conversation's own system turn wins


def test_manifest_says_where_the_export_came_from(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    from dlm_core import __version__

    result = run(
        trained_doc, export_home, dlm_host, target="hf", out=export_home / "hf", command="dlm x"
    )
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["target"] == "hf"
    assert manifest["document_sha256"] == sha256(trained_doc)
    assert manifest["version"] == 1
    assert manifest["base_model"].startswith("hf:")
    assert manifest["dlm_version"] == __version__
    assert manifest["quantization"] is None
    assert manifest["command"] == "dlm x"
    assert manifest["system_prompt"] == SYSTEM
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(result.files) - {"dlm-export.json"}
    for name, entry in listed.items():
        assert entry["sha256"] == sha256(result.out / name)


# -- writing safely ---------------------------------------------------------


def test_out_is_refused_when_it_exists(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    out = export_home / "ds"
    run(trained_doc, export_home, dlm_host, target="dataset", out=out)
    before = sha256(out / "dlm-export.json")
    with pytest.raises(ExportError, match="already exists; pass --force"):
        run(trained_doc, export_home, dlm_host, target="dataset", out=out)
    assert sha256(out / "dlm-export.json") == before


def test_force_replaces_an_earlier_export_whole(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    out = export_home / "ds"
    run(trained_doc, export_home, dlm_host, target="dataset", out=out)
    (out / "stray.txt").write_text("from the old export", encoding="utf-8")
    result = run(trained_doc, export_home, dlm_host, target="dataset", out=out, force=True)
    assert not (out / "stray.txt").exists()
    assert "preference.jsonl" in result.files
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".ds")) == []


def test_force_never_replaces_a_folder_that_is_not_an_export(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    out = export_home / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ExportError, match="not an earlier dlm export"):
        run(trained_doc, export_home, dlm_host, target="dataset", out=out, force=True)
    assert (out / "precious.txt").read_text(encoding="utf-8") == "keep me"


def test_a_failed_export_leaves_nothing_that_looks_complete(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    version = next((export_home / "store").glob("*/adapters/v0001"))
    (version / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    out = export_home / "exports" / "hf"
    with pytest.raises(ExportError, match="cannot load adapter"):
        run(trained_doc, export_home, dlm_host, target="hf", out=out)
    assert list(out.parent.iterdir()) == []  # no out, no temporary folder


def test_an_untrained_document_cannot_export_a_model(
    tmp_path: Path, export_home: Path, dlm_host: PluginHost, tiny_base: Path
) -> None:
    from dlm_core.testing import tiny_document_text

    doc = tmp_path / "new.dlm"
    doc.write_text(tiny_document_text(tiny_base), encoding="utf-8")
    with pytest.raises(StoreError, match="has not been trained yet"):
        run(doc, export_home, dlm_host, target="hf")
    assert run(doc, export_home, dlm_host, target="dataset").records == {
        "sft.jsonl": 2,
        "prose.jsonl": 1,
    }


def test_options_that_do_not_apply_to_a_target_are_refused(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    with pytest.raises(ExportError, match="--quant applies to gguf and ollama"):
        run(trained_doc, export_home, dlm_host, target="hf", quant="q8_0")
    with pytest.raises(ExportError, match="--lora applies"):
        run(trained_doc, export_home, dlm_host, target="dataset", lora=True)
    with pytest.raises(ExportError, match="--no-mined applies to dataset"):
        run(trained_doc, export_home, dlm_host, target="hf", include_mined=False)


# -- dataset ------------------------------------------------------------------


def test_dataset_rows_are_trl_conversational_records(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    result = run(trained_doc, export_home, dlm_host, target="dataset", out=export_home / "ds")
    assert result.records == {"sft.jsonl": 2, "preference.jsonl": 2, "prose.jsonl": 1}
    sft = [json.loads(line) for line in (result.out / "sft.jsonl").read_text().splitlines()]
    assert sft[0]["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": PROBE},
        {"role": "assistant", "content": "Short, factual, and low-drama."},
    ]
    pairs = [
        json.loads(line) for line in (result.out / "preference.jsonl").read_text().splitlines()
    ]
    mined = pairs[0]
    assert mined["prompt"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Can we call a release amazing?"},
    ]
    assert mined["chosen"] == [{"role": "assistant", "content": "No. Describe the change."}]
    assert mined["rejected"][0]["role"] == "assistant"
    assert [p["auto_mined"] for p in pairs] == [True, False]


def test_dataset_without_mined_records(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    result = run(
        trained_doc,
        export_home,
        dlm_host,
        target="dataset",
        out=export_home / "ds",
        include_mined=False,
    )
    pairs = (result.out / "preference.jsonl").read_text().splitlines()
    assert [json.loads(p)["chosen"][0]["content"] for p in pairs] == ["Breaking changes."]


def test_dataset_loads_with_datasets(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost
) -> None:
    from datasets import load_dataset

    out = run(trained_doc, export_home, dlm_host, target="dataset", out=export_home / "ds").out
    pairs = load_dataset("json", data_files=str(out / "preference.jsonl"), split="train")
    sft = load_dataset("json", data_files=str(out / "sft.jsonl"), split="train")
    assert pairs.num_rows == 2 and sft.num_rows == 2
    assert set(pairs.column_names) >= {"prompt", "chosen", "rejected"}
    assert sft[1]["messages"][-1] == {"role": "assistant", "content": "Breaking changes."}


# -- the command line --------------------------------------------------------


def test_cli_exports_and_prints_json(trained_doc: Path, export_home: Path) -> None:
    out = export_home / "ds"
    args = ["--home", str(export_home), "export", str(trained_doc)]
    args += ["--to", "dataset", "--out", str(out), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["out"] == str(out.absolute())
    assert "dlm-export.json" in data["files"]
    manifest = json.loads((out / "dlm-export.json").read_text(encoding="utf-8"))
    # the command given, not the test runner's own sys.argv
    assert manifest["command"] == shlex.join(["dlm", *args])


def test_cli_refusal_is_one_error_line(trained_doc: Path, export_home: Path) -> None:
    out = export_home / "ds"
    out.mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "--home",
            str(export_home),
            "export",
            str(trained_doc),
            "--to",
            "dataset",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {out.absolute()} already exists; pass --force to replace it, or choose another --out"
    ]


def test_cli_rejects_a_bad_version(trained_doc: Path, export_home: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--home",
            str(export_home),
            "export",
            str(trained_doc),
            "--to",
            "hf",
            "--version",
            "v0009",
        ],
    )
    assert result.exit_code == 1
    assert "no adapter version v0009" in result.stderr
