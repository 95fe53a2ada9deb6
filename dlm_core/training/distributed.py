"""Training on several processes through Hugging Face Accelerate.

``dlm train --num-processes N`` (or ``--gpus``) keeps the coordination in
the ``dlm`` process: it holds the store lock, opens the metrics run and the
temporary version folder, and finally writes ``run.json`` and moves
``current``. The training itself runs in N worker processes started with
``accelerate launch`` (DDP; gloo on CPUs, NCCL on GPUs; an Accelerate config
file passes through for FSDP or several machines). Each worker rebuilds the
same rows from the document and hands them to the trainer plugin, whose
trainer shards the batches. Rank 0 alone writes the adapter files, the
per-step metrics and the result the coordinator reads back.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from dlm_core.errors import TrainingError
from dlm_core.fileformat import read_json, write_json
from dlm_core.protocols import StepLog, TrainResult
from dlm_core.store.store import Store
from dlm_core.training.job import TrainOptions, checked_train, prepare_phase, start_version

WORKER_MODULE = "dlm_core.training.distributed"


@attrs.frozen
class WorkerSpec:
    """What every worker process is told (written as JSON next to the run)."""

    document_path: str
    home: str
    phase: str
    include_mined: bool
    max_steps: int | None
    seed: int | None
    start_version: int | None
    device: str | None
    output_dir: str
    run_id: int
    result_path: str
    progress: bool
    tensorboard: bool = False


def gpu_ids(request: str) -> list[str]:
    """``all`` / a count / ``0,1`` → CUDA device ids, checked against what torch sees."""
    import torch

    if not torch.cuda.is_available():
        raise TrainingError(
            "--gpus needs CUDA, and torch sees no CUDA device; use --num-processes on a CPU"
        )
    visible = torch.cuda.device_count()
    text = request.strip().lower()
    if text == "all":
        return [str(i) for i in range(visible)]
    if text.isdigit() and "," not in text:
        count = int(text)
        if not 1 <= count <= visible:
            raise TrainingError(f"--gpus {request}: this machine has {visible} CUDA device(s)")
        return [str(i) for i in range(count)]
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids or any(not i.isdigit() or int(i) >= visible for i in ids):
        raise TrainingError(
            f"--gpus {request}: expected all, a count, or ids below {visible} such as 0,1"
        )
    return ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_command(
    spec_path: Path, num_processes: int, gpus: list[str] | None, config: Path | None
) -> tuple[list[str], dict[str, str]]:
    """The ``accelerate launch`` command line and environment for the workers."""
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    env = dict(os.environ)
    if config is not None:
        command += ["--config_file", str(config), "--num_processes", str(num_processes)]
    else:
        # --multi_gpu selects Accelerate's torchrun launcher; with ACCELERATE_USE_CPU the
        # processes form a gloo group on the CPU instead of claiming GPUs.
        command += [
            "--multi_gpu",
            "--num_processes",
            str(num_processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_free_port()),
        ]
        if gpus:
            command += ["--gpu_ids", ",".join(gpus)]
        else:
            env["ACCELERATE_USE_CPU"] = "true"
            threads = max(1, (os.cpu_count() or 1) // num_processes)
            command += ["--num_cpu_threads_per_process", str(threads)]
    command += ["--module", WORKER_MODULE, str(spec_path)]
    return command, env


def run_workers(
    path: Path,
    store: Store,
    phase: str,
    options: TrainOptions,
    output_dir: Path,
    run_id: int,
    say: Callable[[str], None],
) -> TrainResult:
    """Train one phase on ``options.num_processes`` workers; returns rank 0's result."""
    ids = gpu_ids(options.gpus) if options.gpus else None
    count = len(ids) if ids else options.num_processes
    with tempfile.TemporaryDirectory(prefix=".workers-", dir=store.root) as scratch:
        spec = WorkerSpec(
            document_path=str(path.resolve()),
            home=str(store.home),
            phase=phase,
            include_mined=options.include_mined,
            max_steps=options.max_steps,
            seed=options.seed,
            start_version=_pinned_start(store, options) if phase == "preference" else None,
            device=None if ids else "cpu",
            output_dir=str(output_dir),
            run_id=run_id,
            result_path=str(Path(scratch) / "result.json"),
            progress=options.progress,
            tensorboard=options.tensorboard,
        )
        spec_path = Path(scratch) / "spec.json"
        write_json(spec_path, spec)
        command, env = launch_command(spec_path, count, ids, options.accelerate_config)
        say(f"{phase}: launching {count} training processes through Accelerate")
        completed = subprocess.run(command, env=env)
        if completed.returncode != 0:
            raise TrainingError(
                f"the {count}-process {phase} run failed (accelerate exited {completed.returncode}); "
                "the workers' messages are above"
            )
        result_path = Path(spec.result_path)
        if not result_path.exists():
            raise TrainingError(
                f"the {count}-process {phase} run ended without a result from rank 0"
            )
        return read_json(result_path, TrainResult)


def _pinned_start(store: Store, options: TrainOptions) -> int | None:
    """The start version as a number, so every worker continues the same adapter."""
    start = start_version(store, options)
    return start.number if start else None


def worker_main(spec_path: Path) -> None:
    """One training process: rebuild the phase from the document and train it.

    The coordinating ``dlm`` process holds the locks and the metrics run;
    a worker reads the document without locking and only appends steps.
    """
    from dlm_core.plugins import PluginHost
    from dlm_core.workspace import Workspace

    spec = read_json(spec_path, WorkerSpec)
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    say: Callable[[str], None] = (
        (lambda message: print(message, file=sys.stderr)) if rank == 0 else (lambda _m: None)
    )
    workspace = Workspace(Path(spec.home), PluginHost.discover(), say=say)
    options = TrainOptions(
        phase=spec.phase,  # type: ignore[arg-type]
        include_mined=spec.include_mined,
        max_steps=spec.max_steps,
        seed=spec.seed,
        device=spec.device,
        progress=spec.progress and rank == 0,
        start_version=spec.start_version,
        num_processes=world,  # the auto rule counts steps over all processes, as the launcher did
    )
    with workspace.open(Path(spec.document_path), lock=False) as run:
        store = run.trained_store() if spec.phase == "preference" else run.store
        assert store is not None
        session = run.session(None, device=spec.device or f"cuda:{local_rank}")
        prepared = prepare_phase(run.document, run.types, spec.phase, options, store, session)  # type: ignore[arg-type]
        trainer = run.trainer(prepared.trainer_name, prepared.context(run.path, say))
        if rank != 0:
            job = prepared.job(
                Path(spec.output_dir), lambda _step: None, False, num_processes=world
            )
            checked_train(trainer, job, prepared.trainer_name)
            return
        result = _train_rank_zero(spec, store, prepared, trainer, options.progress, world)
    write_json(Path(spec.result_path), result)


def _train_rank_zero(
    spec: WorkerSpec, store: Store, prepared: Any, trainer: Any, progress: bool, world: int
) -> TrainResult:
    """Rank 0 reports each step into the coordinator's metrics run (and TensorBoard)."""
    from dlm_core.metrics.db import MetricsDB

    sink = None
    if spec.tensorboard:
        from dlm_core.visual.tensorboard import TensorBoardSink, tensorboard_dir

        sink = TensorBoardSink(tensorboard_dir(store.root, spec.run_id))
    with MetricsDB.open(store.metrics_path) as db:

        def on_step(step: StepLog) -> None:
            db.log_steps(
                spec.run_id,
                [(step.step, step.loss, step.learning_rate, step.grad_norm, step.extra)],
            )
            if sink is not None:
                sink(step)

        job = prepared.job(Path(spec.output_dir), on_step, progress, num_processes=world)
        try:
            return checked_train(trainer, job, prepared.trainer_name)
        finally:
            if sink is not None:
                sink.close()


if __name__ == "__main__":
    worker_main(Path(sys.argv[1]))
