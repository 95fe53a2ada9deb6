"""Sway scores: the adapter's per-token log-prob gain over its base, batched.

For a prompt and a candidate, the tokens scored are exactly those training
and generation use: :meth:`ChatFormat.answer_ids` (the answer followed by the
end-of-turn token) after :meth:`ChatFormat.prompt_ids` (system prompt and
chat template up to the assistant turn). The score is the mean over those
tokens of ``log p_adapter - log p_base``. Both log-probs come from the one
shared model: the adapter pass with ``session.model``, the base pass inside
``session.base_view()`` (PEFT's ``disable_adapter``), never a second copy.

All candidates of a prompt share its prompt tokens. Each pass reads the
prompt (but its last token) once into a KV cache, which every batch of
candidates starts from; a batch pads on the right, so every answer starts at
the same position and only the logits from the last prompt token on are
computed (``logits_to_keep``). Padding is masked by each answer's exact
length, so no pad token is ever counted.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from transformers import DynamicCache

from dlm_core.api import JudgeError, ModelSession
from dlm_judge_sway import DEFAULT_THRESHOLD, NO_ADAPTER

TOKEN_BUDGET = 16_384
"""Most tokens (rows x padded length) in one forward pass."""

PADDING_SLACK = 1.25
LOGIT_BUDGET = 2_048
"""Most answer positions whose full-vocabulary logits one forward pass keeps.

At a 49k vocabulary in float32 that is about 400 MB; on an accelerator the
budget grows with free memory.
"""


class SwayJudge:
    """Scores candidates by how far the current adapter moved toward them (higher is better)."""

    name = "sway"
    default_threshold = DEFAULT_THRESHOLD
    uses_current_adapter = True  # it judges with the adapter it is asked to judge

    def __init__(self, session: ModelSession, *, batch_size: int | None = None) -> None:
        self.session = session
        self.batch_size = batch_size  # checked by the factory (PluginContext.count_option)
        self.batch_rows: list[int] = []

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate: mean ``log p_adapter - log p_base`` over its tokens."""
        if self.session.adapter_path is None:
            raise JudgeError(NO_ADAPTER)
        self.batch_rows = []
        if not candidates:
            return []
        chat = self.session.chat
        prompt_ids = chat.prompt_ids(prompt)
        texts = list(dict.fromkeys(candidates))  # each distinct text is scored once
        answers = [chat.answer_ids(prompt, text) for text in texts]
        batches = self._batches(len(prompt_ids), answers)
        # Load the model (on first use) outside inference mode: weights created
        # inside it would be inference tensors that training cannot touch later.
        model = self.session.model
        with torch.inference_mode():
            tuned = self._logprob_sums(model, prompt_ids, answers, batches)
            with self.session.base_view() as base_model:
                base = self._logprob_sums(base_model, prompt_ids, answers, batches)
        self.batch_rows = [len(batch) for batch in batches]
        scores = {text: (tuned[i] - base[i]) / len(answers[i]) for i, text in enumerate(texts)}
        return [scores[text] for text in candidates]

    def _batches(self, prompt_len: int, answers: list[list[int]]) -> list[list[int]]:
        """Candidate indices, shortest answers first, cut where a batch would exceed the budgets."""
        order = sorted(range(len(answers)), key=lambda i: len(answers[i]))
        token_budget, logit_budget = self._budgets()
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            rows = len(current) + 1
            longest = len(answers[i])  # sorted: the newest is the longest
            real = sum(len(answers[j]) for j in current) + longest
            fits = (
                rows * (prompt_len + longest) <= token_budget
                and rows * (longest + 1) <= logit_budget
                and (self.batch_size is None or rows <= self.batch_size)
                # Padding is computed like real tokens: cut where it would pass a quarter.
                and rows * longest <= PADDING_SLACK * real
            )
            if current and not fits:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _budgets(self) -> tuple[int, int]:
        device = torch.device(self.session.device)
        if device.type != "cuda":
            return TOKEN_BUDGET, LOGIT_BUDGET
        free, _total = torch.cuda.mem_get_info(device)
        vocab = self.session.base_model.config.vocab_size
        # float32 logits plus log-sum-exp workspace, in a quarter of free memory.
        positions = int(free * 0.25 // (vocab * 4 * 3))
        return max(TOKEN_BUDGET, positions * 4), max(LOGIT_BUDGET, positions)

    def _logprob_sums(
        self, model: Any, prompt_ids: list[int], answers: list[list[int]], batches: list[list[int]]
    ) -> list[float]:
        """Sum of log p(token) over each answer's tokens, in answer order."""
        device = self.session.device
        pad_id = self.session.tokenizer.pad_token_id
        prefix, cache = self._prefix_cache(model, prompt_ids)
        head = prompt_ids[len(prefix) :]  # the prompt tokens each batch still reads
        sums = [math.nan] * len(answers)
        for batch in batches:
            longest = max(len(answers[i]) for i in batch)
            width = len(head) + longest
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), len(prefix) + width), dtype=torch.long)
            attention_mask[:, : len(prefix)] = 1
            targets = torch.zeros((len(batch), longest), dtype=torch.long)
            counted = torch.zeros((len(batch), longest), dtype=torch.bool)
            for row, i in enumerate(batch):
                length = len(answers[i])
                input_ids[row, : len(head) + length] = torch.tensor(head + answers[i])
                attention_mask[row, len(prefix) : len(prefix) + len(head) + length] = 1
                targets[row, :length] = torch.tensor(answers[i])
                counted[row, :length] = True
            position_ids = torch.arange(len(prefix), len(prefix) + width).expand(len(batch), -1)
            extra: dict[str, Any] = {}
            if cache is not None:
                batch_cache = copy.deepcopy(cache)
                batch_cache.batch_repeat_interleave(len(batch))
                extra = {"cache": batch_cache, "use_cache": True}
            output = model(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                position_ids=position_ids.to(device),
                logits_to_keep=longest + 1,
                **(extra or {"use_cache": False}),
            )
            # Kept positions run from the last prompt token on; position t predicts t + 1.
            logits = output.logits[:, :-1].float()
            targets = targets.to(logits.device)
            picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            logprobs = picked - torch.logsumexp(logits, dim=-1)
            totals = torch.where(counted.to(logits.device), logprobs, 0.0).double().sum(dim=-1)
            for row, i in enumerate(batch):
                sums[i] = float(totals[row])
        return sums

    def _prefix_cache(self, model: Any, prompt_ids: list[int]) -> tuple[list[int], Any]:
        """The prompt but its last token, read once into a KV cache every batch starts from.

        Returns ``([], None)`` where the model's cache cannot be shared that way.
        """
        prefix = prompt_ids[:-1]
        if not prefix:
            return [], None
        output = model(
            input_ids=torch.tensor([prefix], device=self.session.device),
            use_cache=True,
            logits_to_keep=1,
        )
        cache = output.get("cache")
        if not isinstance(cache, DynamicCache) or any(cache.is_linear):
            return [], None
        return prefix, cache
