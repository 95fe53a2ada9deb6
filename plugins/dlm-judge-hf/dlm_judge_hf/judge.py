"""A reward model that scores (prompt, candidate) conversations.

The judge finds its model when it is built (a local folder must hold a
``config.json``; a hub id must be cached or known to the hub) and loads it
on the first ``score`` call, on the device dlm picked, in its own memory:
it never touches the command's shared model session. Each candidate is
rendered with the tokenizer's chat template as one user turn and one
assistant turn (``prompt + "\\n\\n" + candidate`` for a tokenizer without a
template), truncated to the model's maximum length and scored in padded
batches. A single output logit is the score; two outputs give
``logit[1] - logit[0]`` (label 1 is the preferred answer).

torch and transformers are imported inside the methods that need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlm_core.api import JudgeError, ModelError, looks_local, why_unavailable

# The largest context a tokenizer or config may state and still be taken at its
# word; transformers uses a huge sentinel for "no limit".
_NO_LIMIT = 1_000_000


def locate_model(model: str) -> str:
    """The path or hub id ``from_pretrained`` should load for ``--judge hf:<model>``.

    A cheap check, so that a typo fails before sampling starts: a local folder
    must exist and hold ``config.json``; a hub id must be in the Hugging Face
    cache or known to a reachable hub. Nothing is downloaded here.

    :raises ModelError: one line naming the model and what is wrong.
    """
    path = Path(model).expanduser().absolute()
    if looks_local(model) or path.exists():
        if not path.exists():
            raise ModelError(
                f"cannot load reward model {model!r} for --judge hf: the folder {path} does not exist"
            )
        if not path.is_dir():
            raise ModelError(
                f"cannot load reward model {model!r} for --judge hf: {path} is a file, "
                "not a model folder"
            )
        if not (path / "config.json").is_file():
            raise ModelError(
                f"cannot load reward model {model!r} for --judge hf: {path} is not a model folder "
                "(no config.json); point at the folder save_pretrained wrote"
            )
        return str(path.resolve())
    _check_hub_model(model)
    return model


def _check_hub_model(model_id: str) -> None:
    why = why_unavailable(model_id)
    if why is None:
        return
    raise ModelError(
        f"cannot load reward model {model_id!r} for --judge hf: it is not in the Hugging Face "
        f"cache and {why}; download it where the hub is reachable, or pass a local folder "
        "(--judge hf:/path/to/model)"
    )


@dataclass
class _Loaded:
    tokenizer: Any
    model: Any
    device: str
    pad_id: int | None  # None: the model cannot batch, so each candidate runs alone
    max_length: int | None
    chat: bool


class RewardModelJudge:
    """``--judge hf:<model>``: pointwise reward-model scores, higher is better.

    :ivar name: ``hf:<model>`` as the user wrote it.
    :ivar default_threshold: 1.0, in the reward model's logit units.
    """

    default_threshold: float = 1.0

    def __init__(
        self,
        model: str,
        target: str,
        *,
        device: str | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.name = f"hf:{model}"
        self.model_name = model
        self.target = target
        self.requested_device = device
        self.batch_size = batch_size
        self._loaded: _Loaded | None = None

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate, in order; all of a prompt's candidates in one
        padded batch unless ``judge_batch_size`` caps it."""
        if not candidates:
            return []
        loaded = self._load()
        encodings = [self._encode(loaded, prompt, candidate) for candidate in candidates]
        step = len(encodings) if self.batch_size is None else self.batch_size
        if loaded.pad_id is None:
            step = 1
        scores: list[float] = []
        for start in range(0, len(encodings), step):
            scores.extend(self._forward(loaded, encodings[start : start + step]))
        return scores

    # -- loading ----------------------------------------------------------

    def _load(self) -> _Loaded:
        if self._loaded is not None:
            return self._loaded
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from dlm_core.api import pick_device

        device, dtype = pick_device(self.requested_device)
        try:
            # Never the model's own code: a reward model is named on the command line,
            # and its folder or repository could hold anything.
            tokenizer = AutoTokenizer.from_pretrained(self.target, trust_remote_code=False)
            model, info = AutoModelForSequenceClassification.from_pretrained(
                self.target, dtype=dtype, output_loading_info=True, trust_remote_code=False
            )
        except Exception as exc:
            if "trust_remote_code" in str(exc):
                raise ModelError(
                    f"cannot load reward model {self.model_name!r} for --judge hf: it needs to run "
                    "its own Python code (auto_map, trust_remote_code), which dlm never does; "
                    "such models are not supported, pick one that transformers supports natively"
                ) from None
            raise ModelError(
                f"cannot load reward model {self.model_name!r} for --judge hf: "
                f"{type(exc).__name__}: {_one_line(exc)}"
            ) from None
        missing = sorted(info.get("missing_keys") or ())
        if missing:
            # A checkpoint without a trained classification head (a plain causal LM,
            # say) would load with random head weights and score noise.
            shown = ", ".join(missing[:3]) + (
                f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            )
            raise ModelError(
                f"{self.model_name!r} is not a reward model: loading it as a sequence classifier "
                f"left {shown} randomly initialized; --judge hf needs a model trained for "
                "sequence classification with one or two outputs"
            )
        labels = int(model.config.num_labels)
        if labels not in (1, 2):
            raise JudgeError(
                f"reward model {self.model_name!r} has {labels} outputs (num_labels); --judge hf "
                "needs one (a reward) or two (logit[1] - logit[0] is the score)"
            )
        model.to(device)
        model.eval()
        pad_id = model.config.get_text_config().pad_token_id
        self._loaded = _Loaded(
            tokenizer=tokenizer,
            model=model,
            device=device,
            # The model pools each row at its last token that is not its own
            # pad_token_id, so rows are padded with exactly that id; a model
            # without one scores rows one at a time, as it was built to.
            pad_id=None if pad_id is None else int(pad_id),
            max_length=_max_length(tokenizer, model.config),
            chat=bool(getattr(tokenizer, "chat_template", None)),
        )
        return self._loaded

    # -- scoring ----------------------------------------------------------

    def _encode(self, loaded: _Loaded, prompt: str, candidate: str) -> dict[str, list[int]]:
        tokenizer = loaded.tokenizer
        if loaded.chat:
            messages = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": candidate},
            ]
            try:
                text = tokenizer.apply_chat_template(messages, tokenize=False)
            except Exception as exc:
                raise JudgeError(
                    f"the chat template of reward model {self.model_name!r} cannot render a "
                    f"user/assistant conversation: {_one_line(exc)}"
                ) from None
            special = False  # the template already wrote the special tokens it wants
        else:
            text = f"{prompt}\n\n{candidate}"
            special = True
        encoded = tokenizer(
            text,
            add_special_tokens=special,
            truncation=loaded.max_length is not None,
            max_length=loaded.max_length,
        )
        return {key: list(value) for key, value in encoded.items()}

    def _forward(self, loaded: _Loaded, batch: list[dict[str, list[int]]]) -> list[float]:
        import torch

        width = max(len(row["input_ids"]) for row in batch)
        tensors = {}
        for key in batch[0]:
            fill = loaded.pad_id if key == "input_ids" and loaded.pad_id is not None else 0
            padded = [row[key] + [fill] * (width - len(row[key])) for row in batch]
            tensors[key] = torch.tensor(padded, dtype=torch.long, device=loaded.device)
        try:
            with torch.inference_mode():
                logits = loaded.model(**tensors).logits
        except torch.cuda.OutOfMemoryError:
            raise JudgeError(
                f"reward model {self.model_name!r} ran out of GPU memory scoring {len(batch)} "
                "candidates at once; set a smaller judge batch size or use --device cpu"
            ) from None
        logits = logits.float().cpu()
        if logits.ndim != 2 or logits.shape[1] not in (1, 2):
            raise JudgeError(
                f"reward model {self.model_name!r} returned logits of shape {tuple(logits.shape)}; "
                "--judge hf needs one or two per candidate"
            )
        values = logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]
        return [float(v) for v in values.tolist()]


def _max_length(tokenizer: Any, config: Any) -> int | None:
    """The longest input the model takes, from its tokenizer and config."""
    text_config = config.get_text_config()
    stated = [
        getattr(tokenizer, "model_max_length", None),
        getattr(text_config, "max_position_embeddings", None),
        getattr(text_config, "n_positions", None),
    ]
    limits = [
        v for v in stated if isinstance(v, int) and not isinstance(v, bool) and 0 < v < _NO_LIMIT
    ]
    return min(limits) if limits else None


def _one_line(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text if len(text) <= 300 else text[:297] + "..."
