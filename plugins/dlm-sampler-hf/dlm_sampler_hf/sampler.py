"""Batched candidate generation with transformers ``generate``.

How the work is laid out, and why:

- Each (prompt, sample number) pair is one *row*. Prompts are tokenized by
  :class:`~dlm_core.models.chat.ChatFormat` (system prompt and chat template,
  up to the assistant turn), sorted by length and packed into batches of
  similar length, padded on the left, so little compute goes to padding.
- A batch reads each prompt once: one forward pass fills the KV cache for the
  batch's distinct prompts, the cache is repeated for the prompt's ``n`` rows,
  and ``generate`` (KV cache on, stopping at the end-of-turn token) continues
  from it. The ``n`` samples of a prompt share its prefill.
- ``generate`` keeps a finished row in its batch until every row has
  finished, so one long answer would have the whole batch decoding for up to
  ``max_new_tokens`` steps. Generation therefore runs in rounds of
  ``round_tokens`` new tokens; after each round the finished rows are removed
  from the batch *and from the KV cache*, and the next ``generate`` call
  carries on from that cache, so nothing is computed twice and each step only
  pays for the rows still writing.
- Every row draws its randomness from its own generator, seeded from
  ``(seed, prompt, sample number)``, inside a logits processor that samples
  from the temperature-scaled, top-p-filtered distribution and hands the
  chosen token to ``generate``'s argmax. So a candidate depends on the seed,
  its prompt and its number only, not on the batch size, the other prompts of
  the call or the rounds: the same seed gives the same candidates whatever
  ``--batch-size`` says.
- Temperature 0 is greedy decoding: one row per prompt, repeated ``n`` times.
- A row that reaches ``max_new_tokens`` without its end of turn comes back as
  ``Sample(text, truncated=True)``, so mining leaves the cut-off answer out.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable
from typing import Any

import attrs
import torch
from transformers import DynamicCache, GenerationConfig, LogitsProcessor, LogitsProcessorList

from dlm_core.api import ModelSession, ProgressBar, Sample, check_sample_arguments, normalize_text

CPU_TOKEN_BUDGET = 16_384
"""Tokens (rows x (longest prompt + new tokens)) per batch on a CPU.

A CPU gains little from batches past a few dozen rows, and the KV cache of
16k tokens of a 135M model is well under a gigabyte.
"""

CPU_MAX_ROWS = 64
GPU_MAX_ROWS = 256
GPU_MEMORY_SHARE = 0.5
"""Share of the free accelerator memory one batch's KV cache and logits may use."""

DEFAULT_ROUND_TOKENS = 16
"""New tokens per ``generate`` call before finished rows leave the batch (module docstring)."""

NEUTRAL_GENERATION: dict[str, Any] = {
    "do_sample": False,
    "num_beams": 1,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 50,
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0,
    "encoder_no_repeat_ngram_size": 0,
    "min_new_tokens": 0,
    "renormalize_logits": False,
}
"""Settings that keep a base model's own generation defaults (repetition penalty,
sampling flags, a minimum length) out: candidates follow the model's
distribution under the given temperature and top-p only, and greedy decoding
is the plain argmax."""

_DrawSettings = tuple[float, float | None]
"""Temperature and top-p of a sampled (not greedy) call."""


class _Silent:
    """No bar: the sampler was built without one (a script, a test)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


@attrs.define(eq=False)
class _Row:
    """One candidate being generated."""

    prompt_index: int
    prompt_ids: list[int]
    generator: torch.Generator | None
    new_ids: list[int] = attrs.Factory(list)


class _RowDraw(LogitsProcessor):  # type: ignore[misc]  # transformers is untyped here
    """Draws each row's next token from its own generator; ``generate``'s argmax then takes it.

    The distribution is softmax(logits / temperature), cut to the top-p nucleus
    (the most likely tokens until their mass reaches ``top_p``, as transformers'
    ``TopPLogitsWarper`` keeps them). The draw is by inverse CDF with one
    uniform number per row and step: a few vectorised passes over the
    vocabulary, no full sort, and the generator advances the same way
    whatever the batch holds.
    """

    def __init__(
        self, generators: list[torch.Generator], temperature: float, top_p: float | None
    ) -> None:
        self.generators = generators
        self.temperature = temperature
        self.top_p = top_p if top_p is not None and top_p < 1 else None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logits = scores.float() / self.temperature
        # Unnormalised probabilities: the draw scales by each row's total instead.
        weights = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
        order = None
        if self.top_p is not None:
            weights, order = nucleus(weights / weights.sum(dim=-1, keepdim=True), self.top_p)
        cdf = weights.cumsum(dim=-1)
        uniform = torch.cat([torch.rand(1, generator=g, device=g.device) for g in self.generators])
        targets = (uniform.to(cdf.device) * cdf[:, -1]).unsqueeze(-1)
        # The first token whose cumulative weight exceeds the target: never one of weight 0.
        chosen = torch.searchsorted(cdf, targets, right=True).clamp_max(cdf.shape[-1] - 1)
        if order is not None:
            chosen = order.gather(-1, chosen)
        picked = torch.full_like(scores, -math.inf)
        picked.scatter_(-1, chosen, 0.0)
        return picked


def nucleus(probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's top-p nucleus: probabilities in descending order (0 past the nucleus) and token ids.

    A token is kept when the mass of the tokens more likely than it is below
    ``top_p``, so the most likely token always is. The nucleus is looked for
    among the top k tokens, k growing only while some row's top k fall short
    of ``top_p``: no sort of the whole vocabulary at every step.
    """
    vocab = probs.shape[-1]
    k = min(vocab, 256)
    while True:
        top, index = probs.topk(k, dim=-1)
        if k == vocab or bool((top.sum(dim=-1) >= top_p).all()):
            break
        k = min(vocab, k * 4)
    before = top.cumsum(dim=-1) - top
    keep = before < top_p
    keep[:, 0] = True
    return top * keep, index


def row_seed(seed: int, prompt: str, sample: int) -> int:
    """The seed of one candidate's generator: a hash of the run's seed, its prompt and number."""
    digest = hashlib.sha256(f"{seed}\x00{sample}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class HfSampler:
    """Samples candidate answers from the session's model (base + current adapter).

    :ivar generated_tokens: tokens the model generated in the last call to
        :meth:`sample` (end-of-turn included, padding after it not; a greedy
        call generates each prompt's answer once).
    :ivar batch_rows: the number of rows of each ``generate`` call of the last
        call to :meth:`sample`, in order.
    """

    name = "hf"

    def __init__(
        self,
        session: ModelSession,
        *,
        batch_size: int | None = None,
        round_tokens: int | None = DEFAULT_ROUND_TOKENS,
        progress: Callable[..., ProgressBar] | None = None,
    ) -> None:
        if round_tokens is not None and round_tokens < 1:
            raise ValueError(f"round_tokens must be a positive integer, not {round_tokens!r}")
        self.session = session
        self.batch_size = batch_size  # checked by the factory (PluginContext.count_option)
        self.round_tokens = round_tokens
        self.progress = progress  # the command's bars (PluginContext.progress), or none
        self.generated_tokens = 0
        self.batch_rows: list[int] = []
        self._bar: Any = None

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
        self.batch_rows = []
        if not prompts:
            return []

        greedy = temperature == 0
        if seed is None:
            # Drawn from torch's global generator, so torch.manual_seed still pins it.
            seed = int(torch.randint(0, 2**62, (1,)).item())
        rows = self._rows(prompts, 1 if greedy else n, None if greedy else seed)
        with self._progress_over(len(rows)) as bar:
            self._bar = bar
            self._run(rows, max_new_tokens, None if greedy else (temperature, top_p))
        return self._candidates(rows, len(prompts), copies=n if greedy else 1)

    def _rows(self, prompts: list[str], per_prompt: int, seed: int | None) -> list[_Row]:
        """``per_prompt`` rows for each prompt; each sampled row with its own seeded generator."""
        chat, device = self.session.chat, self.session.device
        rows: list[_Row] = []
        prompt_ids: dict[str, list[int]] = {}
        for index, prompt in enumerate(prompts):
            if prompt not in prompt_ids:
                prompt_ids[prompt] = chat.prompt_ids(prompt)
            for number in range(per_prompt):
                generator = None
                if seed is not None:
                    generator = torch.Generator(device=device)
                    generator.manual_seed(row_seed(seed, prompt, number))
                rows.append(_Row(index, prompt_ids[prompt], generator))
        return rows

    def _candidates(self, rows: list[_Row], prompts: int, *, copies: int) -> list[list[str]]:
        """Each row's text, ``copies`` times (greedy rows are written once and repeated)."""
        tokenizer = self.session.tokenizer
        stops = set(self._stop_ids())
        candidates: list[list[str]] = [[] for _ in range(prompts)]
        for row in rows:
            text = normalize_text(tokenizer.decode(row.new_ids, skip_special_tokens=True))
            # No end of turn within max_new_tokens: the answer was cut off, and says so.
            truncated = not row.new_ids or row.new_ids[-1] not in stops
            # The copies of a greedy row cost no tokens.
            candidates[row.prompt_index].append(
                Sample(text, truncated=truncated, tokens=len(row.new_ids))
            )
            candidates[row.prompt_index].extend(
                [Sample(text, truncated=truncated, tokens=0)] * (copies - 1)
            )
        return candidates

    # -- generation -------------------------------------------------------

    def _run(self, rows: list[_Row], max_new_tokens: int, draw: _DrawSettings | None) -> None:
        """Generate every row, batch by batch (rows of one prompt are consecutive)."""
        groups: list[list[_Row]] = []
        for row in rows:
            if groups and groups[-1][0].prompt_index == row.prompt_index:
                groups[-1].append(row)
            else:
                groups.append([row])
        groups.sort(key=lambda group: len(group[0].prompt_ids))
        longest = max(len(row.prompt_ids) for row in rows) + max_new_tokens
        cap = self.batch_size or self.auto_batch_rows(longest)
        batches: list[list[list[_Row]]] = [[]]
        for group in groups:
            for start in range(0, len(group), cap):
                chunk = group[start : start + cap]
                if sum(map(len, batches[-1])) + len(chunk) > cap:
                    batches.append([])
                batches[-1].append(chunk)
        # Load the model (on first use) outside inference mode: weights created
        # inside it would be inference tensors that training cannot touch later.
        model = self.session.generation_model
        with torch.inference_mode():
            for batch in batches:
                self._generate(model, batch, max_new_tokens, draw)

    def auto_batch_rows(self, sequence_tokens: int) -> int:
        """Rows per batch when no ``batch_size`` was given, for sequences of this many tokens.

        On a CPU: a fixed token budget (:data:`CPU_TOKEN_BUDGET`). On an
        accelerator: what fits in half of the free memory, counting each row's
        KV cache and its float32 logits.
        """
        device = torch.device(self.session.device)
        if device.type != "cuda":
            return max(1, min(CPU_MAX_ROWS, CPU_TOKEN_BUDGET // sequence_tokens))
        free, _total = torch.cuda.mem_get_info(device)
        config = self.session.base_model.config
        layers = config.num_hidden_layers
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        element = torch.finfo(self.session.dtype).bits // 8
        kv_per_token = 2 * layers * kv_heads * head_dim * element
        per_row = sequence_tokens * kv_per_token + 4 * 4 * config.vocab_size
        return max(1, min(GPU_MAX_ROWS, int(free * GPU_MEMORY_SHARE // per_row)))

    def _generate(
        self, model: Any, groups: list[list[_Row]], max_new_tokens: int, draw: _DrawSettings | None
    ) -> None:
        """One batch: shared prompt prefill, then rounds of ``generate`` that drop finished rows."""
        device = self.session.device
        active = [row for group in groups for row in group]
        input_ids, attention_mask, cache = self._start(model, groups)
        rounds = self.round_tokens if cache is not None else None
        remaining = max_new_tokens
        while active and remaining > 0:
            step = min(remaining, rounds or remaining)
            processors = None
            if draw is not None:
                generators = [row.generator for row in active if row.generator is not None]
                processors = LogitsProcessorList([_RowDraw(generators, *draw)])
            output = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=self._config(step),
                logits_processor=processors,
                **({"cache": cache} if cache is not None else {}),
            )
            self.batch_rows.append(len(active))
            new = output.sequences[:, input_ids.shape[1] :]
            remaining -= new.shape[1]
            keep = self._take_new_tokens(active, new.tolist(), last_round=remaining <= 0)
            if not keep or remaining <= 0:
                break
            # Carry on with the unfinished rows only: their tokens, mask and cache.
            index = torch.tensor(keep, dtype=torch.long, device=device)
            cache = output.get("cache")
            cache.batch_select_indices(index)
            input_ids = output.sequences[index]
            attention_mask = torch.cat(
                [attention_mask, attention_mask.new_ones((attention_mask.shape[0], new.shape[1]))],
                dim=1,
            )[index]
            active = [active[i] for i in keep]

    def _start(self, model: Any, groups: list[list[_Row]]) -> tuple[Any, Any, Any]:
        """Each row's prompt, left-padded, with its mask and the shared prefill cache (or None)."""
        device = self.session.device
        pad_id = self.session.tokenizer.pad_token_id
        prompts = [group[0].prompt_ids for group in groups]
        width = max(map(len, prompts))
        prompt_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        prompt_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, ids in enumerate(prompts):
            prompt_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            prompt_mask[i, width - len(ids) :] = 1
        prompt_ids, prompt_mask = prompt_ids.to(device), prompt_mask.to(device)
        owner = torch.tensor(
            [i for i, group in enumerate(groups) for _ in group], dtype=torch.long, device=device
        )
        cache = self._prefill(model, prompt_ids, prompt_mask)
        if cache is not None:
            cache.batch_select_indices(owner)
        return prompt_ids[owner], prompt_mask[owner], cache

    def _config(self, max_new_tokens: int) -> GenerationConfig:
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            eos_token_id=self._stop_ids(),
            pad_token_id=self.session.tokenizer.pad_token_id,
            use_cache=True,
            return_dict_in_generate=True,
            **NEUTRAL_GENERATION,
        )

    def _take_new_tokens(
        self, active: list[_Row], new: list[list[int]], *, last_round: bool
    ) -> list[int]:
        """Append each row's new tokens up to its end of turn; the indices of rows still writing."""
        stops = set(self._stop_ids())
        keep = []
        for i, (row, tokens) in enumerate(zip(active, new, strict=True)):
            finished = False
            for position, token in enumerate(tokens):
                if token in stops:
                    tokens, finished = tokens[: position + 1], True
                    break
            row.new_ids.extend(tokens)
            self.generated_tokens += len(tokens)
            if not finished:
                keep.append(i)
            if finished or last_round:
                self._bar.update(1)
        self._bar.set_postfix_str(f"{self.generated_tokens} tokens")
        return keep

    def _progress_over(self, rows: int) -> Any:
        """A bar over the candidates being written (finished ones count), or a silent one."""
        if self.progress is None:
            return contextlib.nullcontext(_Silent())
        return self.progress(rows, desc="sampling", unit="candidate")

    def _prefill(self, model: Any, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> Any:
        """The KV cache of each prompt but its last token, or None where that cannot be shared.

        ``generate`` then reads only the last prompt token, so the ``n`` rows
        of a prompt share one prefill.
        """
        if prompt_ids.shape[1] < 2 or bool((prompt_mask.sum(dim=1) < 2).any()):
            return None  # a row would have no visible token before its last one
        position_ids = (prompt_mask.cumsum(dim=-1) - 1).clamp_min(0)
        output = model(
            input_ids=prompt_ids[:, :-1],
            attention_mask=prompt_mask[:, :-1],
            position_ids=position_ids[:, :-1],
            use_cache=True,
            logits_to_keep=1,
        )
        cache = output.get("cache")
        if not isinstance(cache, DynamicCache) or any(cache.is_linear):
            return None  # only plain KV caches can be repeated per row and pruned
        return cache

    def _stop_ids(self) -> list[int]:
        """End-of-turn first, then any other end token the model's generation config names."""
        stops = [self.session.chat.end_of_turn_id]
        extra = getattr(self.session.base_model.generation_config, "eos_token_id", None)
        for token in extra if isinstance(extra, list) else [extra]:
            if token is not None and int(token) not in stops:
                stops.append(int(token))
        return stops
