"""Sweep SFT and preference settings on the embedded base; append one JSON line per point.

The measurement behind dlm's training defaults (issue 10). For each
document in ``bench/documents/`` and each seed:

1. **SFT** with the candidate settings (``--sft LR:STEPS``, ``default`` for
   what a document without frontmatter gets): the loss on the document's
   answers before and after (the phase summary's ``fit``), the final
   training loss, and the new adapter's greedy answers to its own training
   prompts (``dlm compare --a 1 --b 1`` on them, cut at 96 tokens), to
   eyeball that nothing degenerates.
2. **Mining** on that adapter: ``dlm preference mine --judge terse --samples 6
   --threshold 5 --apply`` (the judge scores minus words, so 5 means the
   chosen answer is at least five words shorter).
3. For every preference configuration
   (``--pref METHOD:LR:STEPS[:BETA_OR_ALPHA[:GUARD]]``, ``default`` for
   none): a copy of the mined document and its store, the settings written
   into the copy's frontmatter (steps through ``--max-steps``; the guard
   only warns unless GUARD says ``stop``), ``dlm train --phase preference``,
   then v0002 against v0001 on the document's ``::eval::`` prompts, which
   it never trains on: 4 answers a prompt and side, judged terse (the
   phase's own held-out check where dlm runs one, else ``dlm compare``).

Each finished stage is one line in ``--out`` (JSONL, ``kind`` sft or pref);
a point already there is skipped, so a stopped sweep resumes where it was,
and SFT plus mining are shared by all preference points of one document,
seed and SFT setting (kept under ``--work``). Every ``dlm`` command runs as
a subprocess, as a user runs it. At the end the lines of the requested
points are printed as one JSON object. Run it niced; on a shared 2-core
CPU one preference point takes 10-40 minutes::

    nice -n 10 .venv/bin/python bench/sweep_defaults.py --docs support-replies \\
        --seeds 1 --sft default --pref dpo:5e-6:10 dpo:1e-4:20:0.1 orpo:3e-4:40:0.1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ROOT / "bench" / "documents"
JUDGE = f"cli:{sys.executable} {ROOT / 'bench' / 'judges' / 'terse.py'}"
DLM = str(Path(sys.executable).with_name("dlm"))
DEFAULT_WORK = Path.home() / ".cache" / "dlm-defaults-sweep"
BASE_SOURCE = Path.home() / ".cache" / "dlm-test" / "home" / "bases" / "smollm2-135m"
MINE_THRESHOLD = 5.0
MINE_SAMPLES = 6
COMPARE_SAMPLES = 4
GREEDY_TOKENS = 96  # an answer that fills this is rambling or repeating


def chosen_tokens(path: Path, home: Path) -> float:
    """The mean token count of the mined chosen answers, as the preference phase tokenizes them.

    The guard's DPO signal is the chosen reward per beta and per chosen token;
    with this the table replays it exactly from the logged rewards.
    """
    from dlm_core.document.builtin_types import BUILTIN_TYPES
    from dlm_core.document.io import read_document
    from dlm_core.models.registry import parse_base
    from dlm_core.models.session import ModelSession
    from dlm_core.training.rows import preference_rows

    document = read_document(path)
    assert document.frontmatter is not None
    session = ModelSession(parse_base(document.frontmatter.base_model), home=home)
    rows = preference_rows(document, session.chat, BUILTIN_TYPES).preference_rows
    return round(sum(len(r.chosen_ids) for r in rows) / len(rows), 3) if rows else 0.0


def words(text: str) -> int:
    return len(text.split())


def mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


class Failed(Exception):
    pass


def dlm(home: Path, *args: str, cwd: Path) -> tuple[str, float]:
    """Run one dlm command; its stdout and wall seconds."""
    env = {
        "OMP_NUM_THREADS": "1",  # on a crowded CPU one thread wastes less than two that wait on each other
        **os.environ,
        "DLM_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    clock = time.perf_counter()
    done = subprocess.run([DLM, *args], env=env, cwd=cwd, capture_output=True, text=True)
    seconds = round(time.perf_counter() - clock, 1)
    if done.returncode != 0:
        raise Failed(f"dlm {' '.join(args[:2])} failed: {done.stderr[-1500:]}")
    return done.stdout, seconds


def new_home(folder: Path, base: Path) -> Path:
    """A dlm home whose bases folder is the shared, already converted base."""
    home = folder / "home"
    (home / "bases").mkdir(parents=True, exist_ok=True)
    link = home / "bases" / "smollm2-135m"
    if not link.exists():
        link.symlink_to(base, target_is_directory=True)
    return home


def set_frontmatter(path: Path, settings: dict[str, Any]) -> None:
    """Merge ``settings`` (nested keys) into the document's frontmatter, writing one if absent."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    data = yaml.safe_load(match.group(1)) if match else {}
    body = text[match.end() :] if match else text
    data = data or {}
    data.setdefault("base_model", "smollm2-135m")

    def merge(into: dict[str, Any], new: dict[str, Any]) -> None:
        for key, value in new.items():
            if isinstance(value, dict):
                merge(into.setdefault(key, {}), value)
            else:
                into[key] = value

    merge(data, settings)
    block = yaml.safe_dump(data, sort_keys=False).strip()
    path.write_text(f"---\n{block}\n---\n{body}", encoding="utf-8")


def training_prompts(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    section = text.split("::instruction::", 1)[1].split("::", 1)[0]
    return [q.strip() for q in re.findall(r"### Q\n(.*?)\n### A", section, re.DOTALL)]


def compare_figures(report: dict[str, Any]) -> dict[str, Any]:
    items = report["items"]
    return {
        "win_rate": round(report["win_rate"], 4),
        "ci_low": round(report["ci_low"], 4),
        "ci_high": round(report["ci_high"], 4),
        "wins": report["wins"],
        "losses": report["losses"],
        "ties": report["ties"],
        "comparisons": report["comparisons"],
        "words_a": mean([words(i["answer_a"]) for i in items]),
        "words_b": mean([words(i["answer_b"]) for i in items]),
    }


def held_out_figures(verdict: dict[str, Any]) -> dict[str, Any]:
    """The figures of a preference phase's own held-out check, named as compare_figures names them."""
    return {
        "win_rate": round(verdict["win_rate"], 4),
        "ci_low": round(verdict["ci_low"], 4),
        "ci_high": round(verdict["ci_high"], 4),
        "wins": verdict["wins"],
        "losses": verdict["losses"],
        "ties": verdict["ties"],
        "comparisons": verdict["comparisons"],
        "words_a": round(verdict["mean_words_parent"], 3),
        "words_b": round(verdict["mean_words_new"], 3),
    }


def trend(values: list[float]) -> dict[str, float | None]:
    """First, last, the mean of the last quarter, and the minimum of a per-step series."""
    if not values:
        return {"first": None, "last": None, "tail": None, "min": None}
    tail = values[-max(1, len(values) // 4) :]
    return {
        "first": round(values[0], 4),
        "last": round(values[-1], 4),
        "tail": mean(tail),
        "min": round(min(values), 4),
    }


def sft_spec(name: str) -> tuple[dict[str, Any], list[str]]:
    """``default`` or ``LR:STEPS`` -> (frontmatter settings, extra train arguments)."""
    if name == "default":
        return {}, []
    lr, steps = name.split(":")
    return {"training": {"learning_rate": float(lr)}}, ["--max-steps", steps]


def pref_spec(name: str) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """``default`` or ``METHOD:LR:STEPS[:BETA_OR_ALPHA[:GUARD]]`` -> (frontmatter, arguments, fields).

    STEPS ``auto`` leaves the steps to ``num_epochs: auto``; GUARD is the
    guard's mode, ``warn`` unless given, so a point shows where the guard
    would have stopped it without being stopped.
    """
    if name == "default":
        return {}, [], {"method": "default"}
    parts = name.split(":")
    method, lr, steps = parts[0], float(parts[1]), parts[2]
    hyper: dict[str, Any] = {"learning_rate": lr}
    fields: dict[str, Any] = {"method": method, "learning_rate": lr, "steps_asked": steps}
    if len(parts) > 3 and parts[3]:
        key = "beta" if method == "dpo" else "alpha"
        hyper[key] = float(parts[3])
        fields[key] = float(parts[3])
    guard = parts[4] if len(parts) > 4 else "warn"
    fields["guard_mode"] = guard
    settings = {
        "training": {
            "preference": {"method": method, "hyperparams": hyper, "options": {"guard": guard}}
        }
    }
    return settings, [] if steps == "auto" else ["--max-steps", steps], fields


class Sweep:
    def __init__(self, args: argparse.Namespace) -> None:
        self.out: Path = args.out
        self.work: Path = args.work
        self.base: Path = args.base
        self.done: dict[str, dict[str, Any]] = {}
        if self.out.exists():
            for line in self.out.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.done[record["key"]] = record

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        self.done[record["key"]] = record
        with self.out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps({k: v for k, v in record.items() if k != "answers"}), file=sys.stderr)
        return record

    def trained(self, doc: str, seed: int, sft: str) -> tuple[Path, dict[str, Any]]:
        """The SFT-trained document folder of one document, seed and SFT setting."""
        key = f"sft|{doc}|{seed}|{sft}"
        folder = self.work / doc / f"seed{seed}" / sft.replace(":", "_") / "prepared"
        if key in self.done and (folder / "sft-done").exists():
            return folder, self.done[key]
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        home = new_home(folder, self.base)
        path = folder / "doc.dlm"
        shutil.copyfile(DOCUMENTS / f"{doc}.dlm", path)
        settings, extra = sft_spec(sft)
        if settings:
            set_frontmatter(path, settings)
        out, train_s = dlm(
            home,
            "train",
            str(path),
            "--phase",
            "sft",
            "--seed",
            str(seed),
            *extra,
            "--json",
            cwd=folder,
        )
        [outcome] = json.loads(out)
        prompts = folder / "train-prompts.txt"
        prompts.write_text("\n".join(training_prompts(path)) + "\n", encoding="utf-8")
        # Greedy answers of the new adapter to its own training prompts (both sides are v1).
        out, greedy_s = dlm(
            home,
            "compare",
            str(path),
            "--a",
            "1",
            "--b",
            "1",
            "--prompts",
            str(prompts),
            "--judge",
            JUDGE,
            "--max-new-tokens",
            str(GREEDY_TOKENS),
            "--json",
            cwd=folder,
        )
        greedy = json.loads(out)
        fit = outcome.get("fit") or {}
        record = self.record(
            {
                "key": key,
                "kind": "sft",
                "doc": doc,
                "seed": seed,
                "sft": sft,
                "steps": outcome["steps"],
                "final_loss": outcome["final_loss"],
                "answer_loss_before": outcome.get("final_answer_loss_before")
                or (fit.get("before") or {}).get("loss"),
                "answer_loss_after": outcome.get("final_answer_loss_after")
                or (fit.get("after") or {}).get("loss"),
                "train_seconds": train_s,
                "greedy_words_sft": mean([words(i["answer_b"]) for i in greedy["items"]]),
                "answers": [{"prompt": i["prompt"], "sft": i["answer_b"]} for i in greedy["items"]],
                "greedy_seconds": greedy_s,
            }
        )
        (folder / "sft-done").write_text("ok\n", encoding="utf-8")
        return folder, record

    def prepared(self, doc: str, seed: int, sft: str) -> tuple[Path, dict[str, Any]]:
        """The SFT-trained, mined document folder: mining's record."""
        folder, _ = self.trained(doc, seed, sft)
        key = f"mine|{doc}|{seed}|{sft}"
        if key in self.done and (folder / "mine-done").exists():
            return folder, self.done[key]
        home, path = folder / "home", folder / "doc.dlm"
        out, mine_s = dlm(
            home,
            "preference",
            "mine",
            str(path),
            "--judge",
            JUDGE,
            "--samples",
            str(MINE_SAMPLES),
            "--threshold",
            str(MINE_THRESHOLD),
            "--apply",
            "--seed",
            str(seed),
            "--json",
            cwd=folder,
        )
        pairs = json.loads(out)["pairs"]
        record = self.record(
            {
                "key": key,
                "kind": "mine",
                "doc": doc,
                "seed": seed,
                "sft": sft,
                "pairs": len(pairs),
                "chosen_words": mean([words(p["chosen"]) for p in pairs]),
                "rejected_words": mean([words(p["rejected"]) for p in pairs]),
                "chosen_tokens": chosen_tokens(path, home) if pairs else None,
                "mine_seconds": mine_s,
            }
        )
        (folder / "mine-done").write_text("ok\n", encoding="utf-8")
        return folder, record

    def preference(self, doc: str, seed: int, sft: str, pref: str) -> dict[str, Any] | None:
        key = f"pref|{doc}|{seed}|{sft}|{pref}"
        if key in self.done:
            return self.done[key]
        prepared, sft_record = self.prepared(doc, seed, sft)
        if sft_record["pairs"] == 0:
            return None
        folder = prepared.parent / pref.replace(":", "_")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        home = new_home(folder, self.base)
        shutil.copytree(prepared / "home" / "store", home / "store")
        path = folder / "doc.dlm"
        shutil.copyfile(prepared / "doc.dlm", path)
        settings, extra, fields = pref_spec(pref)
        if settings:
            set_frontmatter(path, settings)
        out, train_s = dlm(
            home,
            "train",
            str(path),
            "--phase",
            "preference",
            "--seed",
            str(seed),
            *extra,
            "--json",
            cwd=folder,
        )
        [outcome] = json.loads(out)
        metrics = json.loads(dlm(home, "metrics", str(path), "--json", cwd=folder)[0])
        [run] = [r for r in metrics["runs"] if r["run"].get("phase") == "preference"]
        steps = run["steps"]

        def series(name: str) -> list[float]:
            return [s["extra"][name] for s in steps if name in s.get("extra", {})]

        if outcome.get("held_out"):
            # The phase checked itself: v0002 against v0001 on the ::eval:: prompts, 4 samples
            # a side, judged by the mining judge (terse): the comparison below, done already.
            figures, compare_s = held_out_figures(outcome["held_out"]), 0.0
        else:
            out, compare_s = dlm(
                home,
                "compare",
                str(path),
                "--a",
                "1",
                "--b",
                "2",
                "--judge",
                JUDGE,
                "--samples",
                str(COMPARE_SAMPLES),
                "--seed",
                str(seed),
                "--json",
                cwd=folder,
            )
            figures = compare_figures(json.loads(out))
        summary = run["run"].get("summary") or {}
        record = {
            "key": key,
            "kind": "pref",
            "doc": doc,
            "seed": seed,
            "sft": sft,
            "pref": pref,
            **fields,
            "pairs": sft_record["pairs"],
            "steps": outcome["steps"],
            "final_loss": outcome["final_loss"],
            "loss": trend([s["loss"] for s in steps if s.get("loss") is not None]),
            "margins": trend(series("rewards/margins")),
            "chosen_reward": trend(series("rewards/chosen")),
            "logps_chosen": trend(series("logps/chosen")),
            "series": {
                "loss": [round(s["loss"], 4) for s in steps if s.get("loss") is not None],
                "margins": [round(v, 4) for v in series("rewards/margins")],
                "chosen_reward": [round(v, 4) for v in series("rewards/chosen")],
                "logps_chosen": [round(v, 3) for v in series("logps/chosen")],
            },
            "guard": {
                k: v for k, v in {**summary, **outcome}.items() if k.startswith("final_guard")
            },
            "train_seconds": train_s,
            "compare_seconds": compare_s,
            **figures,
        }
        return self.record(record)


def replay_guard(record: dict[str, Any], tokens: float | None) -> str:
    """Where the TRL plugin's guard (stop mode, default tolerance) stops this point's logged run."""
    from dlm_trainer_trl.guard import ChosenGuard, GuardSettings, dpo_signal, orpo_signal
    from transformers import TrainerControl, TrainerState

    series = record["series"]
    if record["method"] == "dpo":
        if not tokens:
            return "-"
        signal, key = dpo_signal(record.get("beta", 0.1), tokens), "rewards/chosen"
        values = series["chosen_reward"]
    else:
        signal, key, values = orpo_signal, "logps/chosen", series["logps_chosen"]
    window = -(-record["pairs"] // 4)
    guard = ChosenGuard(
        signal=signal, window=window, settings=GuardSettings(), relative=key != "rewards/chosen"
    )
    state = TrainerState()
    for step, value in enumerate(values, start=1):
        state.global_step = step
        control = TrainerControl()
        guard.on_log(None, state, control, logs={"loss": 0.0, key: value})
        if control.should_training_stop:
            return f"step {step}"
    return "no"


def markdown_tables(files: list[Path], work: Path = DEFAULT_WORK) -> str:
    """The SFT and preference points of ``files`` as two Markdown tables (docs/cookbook)."""
    records: dict[str, dict[str, Any]] = {}
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["key"]] = record
    mined = {(r["doc"], r["seed"], r["sft"]): r for r in records.values() if r["kind"] == "mine"}
    sft_rows = [
        "| document | seed | lr:steps | steps | final loss | answer loss before -> after | greedy words |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(
        (r for r in records.values() if r["kind"] == "sft"),
        key=lambda r: (r["doc"], r["seed"], r["sft"]),
    ):
        before, after = r.get("answer_loss_before"), r.get("answer_loss_after")
        fit = f"{before:.2f} -> {after:.2f}" if before is not None and after is not None else "-"
        sft_rows.append(
            f"| {r['doc']} | {r['seed']} | {r['sft']} | {r['steps']} | {r['final_loss']:.2f} "
            f"| {fit} | {r['greedy_words_sft']} |"
        )
    pref_rows = [
        "| document | seed | method:lr:steps:beta/alpha[:guard] | pairs (words chosen / rejected) "
        "| steps | final loss | margin first -> last | chosen reward last | guard would stop | win rate "
        "| 95% CI | W / L / T | words v1 -> v2 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(
        (r for r in records.values() if r["kind"] == "pref"),
        key=lambda r: (r["doc"], r["seed"], r["pref"]),
    ):
        m = mined.get((r["doc"], r["seed"], r["sft"]), {})
        tokens = m.get("chosen_tokens")
        folder = work / r["doc"] / f"seed{r['seed']}" / r["sft"].replace(":", "_") / "prepared"
        if tokens is None and (folder / "doc.dlm").exists():
            tokens = chosen_tokens(folder / "doc.dlm", folder / "home")
        guard_text = replay_guard(r, tokens)
        pref_rows.append(
            f"| {r['doc']} | {r['seed']} | {r['pref']} | {r['pairs']} "
            f"({m.get('chosen_words')} / {m.get('rejected_words')}) | {r['steps']} "
            f"| {r['final_loss']:.3f} | {r['margins']['first']:.2f} -> {r['margins']['last']:.2f} "
            f"| {r['chosen_reward']['last']:.2f} | {guard_text} | {r['win_rate']:.2f} "
            f"| {r['ci_low']:.2f}-{r['ci_high']:.2f} | {r['wins']} / {r['losses']} / {r['ties']} "
            f"| {r['words_a']:.1f} -> {r['words_b']:.1f} |"
        )
    return "\n".join([*sft_rows, "", *pref_rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", nargs="+", default=["support-replies", "release-notes"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--sft", nargs="+", default=["default"], help="default or LR:STEPS")
    parser.add_argument(
        "--pref",
        nargs="*",
        default=[],
        help="default or METHOD:LR:STEPS[:BETA_OR_ALPHA[:GUARD]] (STEPS may be auto)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_WORK / "sweep.jsonl")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--base", type=Path, default=BASE_SOURCE, help="converted default base")
    parser.add_argument(
        "--table",
        nargs="*",
        type=Path,
        help="Run nothing: print the points of these JSONL files (default --out) as Markdown tables.",
    )
    args = parser.parse_args()
    if args.table is not None:
        print(markdown_tables(args.table or [args.out], args.work))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    sweep = Sweep(args)
    results = []
    for doc in args.docs:
        for seed in args.seeds:
            for sft in args.sft:
                try:
                    results.append(sweep.trained(doc, seed, sft)[1])
                    if args.pref:
                        results.append(sweep.prepared(doc, seed, sft)[1])
                    for pref in args.pref:
                        point = sweep.preference(doc, seed, sft, pref)
                        if point is not None:
                            results.append(point)
                except Failed as exc:
                    print(f"{doc} seed {seed} sft {sft}: {exc}", file=sys.stderr)
    brief = [{k: v for k, v in r.items() if k not in ("answers", "series")} for r in results]
    print(json.dumps({"base_model": "smollm2-135m", "points": brief}, indent=2))


if __name__ == "__main__":
    main()
