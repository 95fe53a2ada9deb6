"""Batched candidate generation with llama.cpp.

How the work is laid out, and why:

- The model is the current adapter merged into its base, converted to a
  GGUF by llama.cpp's own converter once per adapter version and kept in the
  store (``dlm_core.api.adapter_gguf``); loading it afterwards takes a
  fraction of a second.
- Prompts are tokenized by the session's :class:`~dlm_core.api.ChatFormat`
  (the document's system prompt and the tokenizer's chat template), exactly
  as the ``hf`` sampler and training tokenize them, and answers are decoded
  by the same tokenizer; llama.cpp only ever sees token ids.
- Each (prompt, sample number) pair is one *row* and one llama.cpp
  sequence. A wave of up to ``max_sequences`` rows shares one context with a
  KV cache stream per sequence: the prompts are prefilled together in large
  batches, then every decode step is one ``llama_decode`` of one token per
  unfinished row. A finished row simply leaves the batch.
- After each ``llama_decode`` the logits of all rows are read as one numpy
  array and every row's next token is drawn at once: softmax(logits /
  temperature), cut to the top-p nucleus (the temperature-scaled
  distribution, as transformers cuts it), then an inverse-CDF draw with one
  uniform number from the row's own generator, seeded from ``(seed, prompt,
  sample number)``. So a candidate depends on the seed, its prompt and its
  number only, not on the other rows of the call or the wave size. (One
  vectorised draw for all rows costs a fraction of llama.cpp's per-row
  sampler chain over a 49k vocabulary.) Temperature 0 is greedy: one row per
  prompt, repeated ``n`` times.
- A row that reaches ``max_new_tokens`` without its end of turn comes back
  as ``Sample(text, truncated=True)``, so mining leaves it out.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from dlm_core.api import (
    PluginContext,
    Sample,
    SamplerError,
    adapter_gguf,
    check_sample_arguments,
    normalize_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_MAX_SEQUENCES = 64
"""Rows decoded together; past a few dozen a CPU gains little."""

PREFILL_TOKENS = 512
"""Prompt tokens per ``llama_decode`` call while the prompts are read."""

CELL_ROUNDING = 256
"""llama.cpp pads a context's size to this many cells; each sequence gets whole multiples."""


def row_seed(seed: int, prompt: str, sample: int) -> int:
    """The 32-bit seed of one candidate's draw: a hash of the run's seed, its prompt and number."""
    digest = hashlib.sha256(f"{seed}\x00{sample}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def available_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@attrs.define(eq=False)
class _Row:
    """One candidate being generated, in llama.cpp sequence ``sequence``."""

    prompt_index: int
    prompt_ids: list[int]
    seed: int | None
    sequence: int = 0
    rng: Any = None
    new_ids: list[int] = attrs.Factory(list)
    done: bool = False


class LlamaCppSampler:
    """Samples candidate answers from the context's adapter, run by llama.cpp.

    :ivar generated_tokens: tokens generated in the last call to :meth:`sample`
        (end of turn included; a greedy call generates each prompt's answer once).
    :ivar gguf_path: the GGUF the sampler runs, once loaded.
    """

    name = "llamacpp"

    def __init__(
        self,
        context: PluginContext,
        *,
        max_sequences: int | None = None,
        threads: int | None = None,
        quant: str = "f16",
    ) -> None:
        if max_sequences is not None and (
            isinstance(max_sequences, bool) or int(max_sequences) < 1
        ):
            raise ValueError(f"max_sequences must be a positive integer, not {max_sequences!r}")
        self.context = context
        self.max_sequences = int(max_sequences) if max_sequences else DEFAULT_MAX_SEQUENCES
        self.threads = int(threads) if threads else available_threads()
        self.quant = quant
        self.generated_tokens = 0
        self.gguf_path: Path | None = None
        self._model: Any = None

    # -- the model ----------------------------------------------------------

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        import llama_cpp

        path = adapter_gguf(self.context, self.quant)
        # llama.cpp logs every load to stderr; keep its errors only.
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        # No AMX / repacked-weight buffers: llama.cpp's AMX path segfaults on some
        # Sapphire Rapids CPUs (ggml-org/llama.cpp#20824); the plain CPU path is safe.
        params.use_extra_bufts = False
        model = llama_cpp.llama_model_load_from_file(str(path).encode("utf-8"), params)
        if not model:
            raise SamplerError(f"llama.cpp could not load {path}; delete it to convert it again")
        self._model, self.gguf_path = model, path
        return model

    def close(self) -> None:
        """Free the model (also done when the sampler is garbage-collected)."""
        if self._model is not None:
            import llama_cpp

            llama_cpp.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        try:  # noqa: SIM105  (at interpreter shutdown even contextlib may be gone)
            self.close()
        except Exception:
            pass

    # -- sampling -----------------------------------------------------------

    def sample(
        self,
        prompts: list[str],
        n: int,
        *,
        temperature: float,
        top_p: float | None,
        max_new_tokens: int,
        seed: int | None,
    ) -> list[list[str]]:
        """``n`` candidates for each prompt, in prompt order (see the module docstring)."""
        check_sample_arguments(
            n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens
        )
        self.generated_tokens = 0
        if not prompts:
            return []
        greedy = temperature == 0
        chat = self.context.session.chat
        if seed is None:
            seed = random.getrandbits(62)
        rows: list[_Row] = []
        prompt_ids: dict[str, list[int]] = {}
        for index, prompt in enumerate(prompts):
            if prompt not in prompt_ids:
                prompt_ids[prompt] = chat.prompt_ids(prompt)
            for number in range(1 if greedy else n):
                rows.append(
                    _Row(
                        index,
                        prompt_ids[prompt],
                        None if greedy else row_seed(seed, prompt, number),
                    )
                )
        model = self._load()
        stops = self._stop_ids(model, chat.end_of_turn_id)
        with self.context.progress(len(rows), desc="llamacpp", unit="answer") as bar:
            for start in range(0, len(rows), self.max_sequences):
                wave = rows[start : start + self.max_sequences]
                self._run_wave(model, wave, max_new_tokens, stops, temperature, top_p, bar)

        tokenizer = self.context.session.tokenizer
        candidates: list[list[str]] = [[] for _ in prompts]
        for row in rows:
            text = normalize_text(tokenizer.decode(row.new_ids, skip_special_tokens=True))
            truncated = not row.new_ids or row.new_ids[-1] not in stops
            candidates[row.prompt_index].append(
                Sample(text, truncated=truncated, tokens=len(row.new_ids))
            )
            copies = (n if greedy else 1) - 1
            candidates[row.prompt_index].extend(
                [Sample(text, truncated=truncated, tokens=0)] * copies
            )
        return candidates

    @staticmethod
    def _stop_ids(model: Any, end_of_turn: int) -> set[int]:
        """The chat's end-of-turn token, and llama.cpp's end-of-sequence and end-of-turn tokens."""
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(model)
        found = {end_of_turn, llama_cpp.llama_vocab_eos(vocab), llama_cpp.llama_vocab_eot(vocab)}
        return {token for token in found if token >= 0}

    def _run_wave(
        self,
        model: Any,
        rows: list[_Row],
        max_new_tokens: int,
        stops: set[int],
        temperature: float,
        top_p: float | None,
        bar: Any,
    ) -> None:
        """Generate every row of one wave in its own sequence of one shared context."""
        import llama_cpp
        import numpy as np

        context, n_batch = self._wave_context(model, rows, max_new_tokens)
        batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        try:
            for sequence, row in enumerate(rows):
                row.sequence = sequence
                if row.seed is not None:
                    row.rng = np.random.Generator(np.random.PCG64(row.seed))
            vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
            take = functools.partial(
                self._take,
                context,
                vocab=vocab,
                draw=Draw(temperature, top_p),
                stops=stops,
                max_new_tokens=max_new_tokens,
                bar=bar,
            )
            self._read_prompts(context, batch, n_batch, rows, take)
            self._generate(context, batch, rows, take)
        finally:
            llama_cpp.llama_batch_free(batch)
            llama_cpp.llama_free(context)

    def _wave_context(self, model: Any, rows: list[_Row], max_new_tokens: int) -> tuple[Any, int]:
        """A context with a sequence of its own for each row, and its batch size.

        Every sequence gets room for the longest prompt and ``max_new_tokens``,
        rounded up, so one allocation serves the whole wave.

        :raises SamplerError: llama.cpp could not make it (too many rows for the memory).
        """
        import llama_cpp

        longest = max(len(row.prompt_ids) for row in rows) + max_new_tokens
        cells = -(-longest // CELL_ROUNDING) * CELL_ROUNDING
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = cells * len(rows)
        params.n_batch = params.n_ubatch = max(PREFILL_TOKENS, len(rows))
        params.n_seq_max = len(rows)
        params.n_threads = params.n_threads_batch = self.threads
        params.kv_unified = False  # one stream per sequence: no row attends to another's cells
        params.no_perf = True
        context = llama_cpp.llama_init_from_model(model, params)
        if not context:
            raise SamplerError(
                f"llama.cpp could not make a context for {len(rows)} sequences of {cells} tokens; "
                "lower --batch-size"
            )
        return context, int(params.n_batch)

    def _read_prompts(
        self,
        context: Any,
        batch: Any,
        n_batch: int,
        rows: list[_Row],
        take: Callable[[list[_Row]], None],
    ) -> None:
        """Decode the prompts, many rows per call; each row's first token follows its prompt."""
        pending = [(row, pos, token) for row in rows for pos, token in enumerate(row.prompt_ids)]
        for start in range(0, len(pending), n_batch):
            chunk = pending[start : start + n_batch]
            entries = [
                (row, pos, token, pos == len(row.prompt_ids) - 1) for row, pos, token in chunk
            ]
            self._decode(context, batch, entries)
            ready = [row for row, _pos, _token, last in entries if last]
            if ready:
                take(ready)

    def _generate(
        self, context: Any, batch: Any, rows: list[_Row], take: Callable[[list[_Row]], None]
    ) -> None:
        """Then one token per unfinished row per call, until every row is done."""
        while True:
            active = [row for row in rows if not row.done]
            if not active:
                break
            entries = [
                (row, len(row.prompt_ids) + len(row.new_ids) - 1, row.new_ids[-1], True)
                for row in active
            ]
            self._decode(context, batch, entries)
            take(active)

    @staticmethod
    def _decode(context: Any, batch: Any, entries: list[tuple[_Row, int, int, bool]]) -> None:
        import llama_cpp

        batch.n_tokens = len(entries)
        for i, (row, pos, token, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = row.sequence
            batch.logits[i] = logits
        status = llama_cpp.llama_decode(context, batch)
        if status != 0:
            raise SamplerError(
                f"llama.cpp could not decode a batch (status {status}); lower --batch-size"
            )

    def _take(
        self,
        context: Any,
        rows: list[_Row],
        vocab: int,
        draw: Draw,
        stops: set[int],
        max_new_tokens: int,
        bar: Any,
    ) -> None:
        """Draw each row's next token from the last decode's logits (one output per row, in order)."""
        import ctypes

        import llama_cpp
        import numpy as np

        pointer = llama_cpp.llama_get_logits(context)
        address = ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float))
        logits = np.ctypeslib.as_array(address, shape=(len(rows), vocab))
        tokens = draw(logits, [row.rng for row in rows])
        for row, token in zip(rows, tokens, strict=True):
            row.new_ids.append(token)
            self.generated_tokens += 1
            if token in stops or len(row.new_ids) >= max_new_tokens:
                row.done = True
                bar.update(1)


class Draw:
    """Next tokens for a batch of rows: greedy, or temperature and top-p with each row's generator."""

    def __init__(self, temperature: float, top_p: float | None) -> None:
        self.temperature = temperature
        self.top_p = top_p if top_p is not None and top_p < 1 else None

    def __call__(self, logits: Any, generators: list[Any]) -> list[int]:
        import numpy as np

        if self.temperature == 0:
            return [int(t) for t in logits.argmax(axis=-1)]
        scaled = logits / np.float32(self.temperature)
        weights = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
        order = None
        if self.top_p is not None:
            weights, order = nucleus(weights / weights.sum(axis=-1, keepdims=True), self.top_p)
        cdf = np.cumsum(weights, axis=-1)
        uniform = np.array([g.random() for g in generators], dtype=np.float64)
        targets = (uniform * cdf[:, -1])[:, None]
        # The first token whose cumulative weight exceeds the target: never one of weight 0.
        chosen = np.minimum((cdf <= targets).sum(axis=-1), cdf.shape[-1] - 1)
        if order is not None:
            chosen = np.take_along_axis(order, chosen[:, None], axis=-1)[:, 0]
        return [int(t) for t in chosen]


def nucleus(probs: Any, top_p: float) -> tuple[Any, Any]:
    """Each row's top-p nucleus: probabilities in descending order (0 past the nucleus) and token ids.

    A token is kept when the mass of the tokens more likely than it is below
    ``top_p``, so the most likely token always is (transformers' rule). The
    nucleus is looked for among the top k tokens, k growing only while some
    row's top k fall short of ``top_p``.
    """
    import numpy as np

    vocab = probs.shape[-1]
    k = min(vocab, 256)
    while True:
        index = (
            np.argpartition(-probs, k - 1, axis=-1)[:, :k]
            if k < vocab
            else np.argsort(-probs, axis=-1)
        )
        top = np.take_along_axis(probs, index, axis=-1)
        rank = np.argsort(-top, axis=-1, kind="stable")
        top, index = (
            np.take_along_axis(top, rank, axis=-1),
            np.take_along_axis(index, rank, axis=-1),
        )
        if k == vocab or bool((top.sum(axis=-1) >= top_p).all()):
            break
        k = min(vocab, k * 4)
    before = np.cumsum(top, axis=-1) - top
    keep = before < top_p
    keep[:, 0] = True
    return top * keep, index
