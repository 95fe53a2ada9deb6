"""Reference scores: how likely the document's answer is as a restatement of each candidate.

For a prompt, a candidate and the document's answer, the conversation is::

    [system prompt]  user: <prompt>  assistant: <candidate>  user: RESTATE  assistant: <answer>

and the score is the mean log-probability of the answer's tokens (not its
end of turn) under the base model: the base reads the candidate, is asked to
say it again, and is scored on saying the document's answer. A candidate
that says the same thing in other words makes those tokens likely; one that
contradicts it ("No." where the document says "Within one working day", "Yes"
where it says "No") makes them unlikely. The base, not the adapter: the
adapter was trained to give the document's answer to this very prompt,
which flattens the difference the candidate makes (measured in
``bench/judge_agreement.py``). Where the document answers a question more
than once, the best agreement counts.

All candidates of a prompt are scored against one answer in padded batches.
Rows pad on the left, so the answer's tokens end every row at the same
positions and only their logits are computed (``logits_to_keep``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dlm_core.api import JudgeError, ModelSession, normalize_text
from dlm_judge_reference import DEFAULT_THRESHOLD, no_reference

RESTATE = "Say that again in a few words."
"""The follow-up turn after the candidate; the document's answer is scored as its reply."""

TOKEN_BUDGET = 16_384
"""Most tokens (rows x padded length) in one forward pass."""


class ReferenceJudge:
    """Scores candidates by how well they agree with the document's answer (higher is better)."""

    name = "reference"
    default_threshold = DEFAULT_THRESHOLD

    def __init__(
        self,
        session: ModelSession,
        answers: dict[str, list[str]],
        *,
        batch_size: int | None = None,
        use_adapter: bool = False,
    ) -> None:
        if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
            raise ValueError(f"judge_batch_size must be a positive integer, not {batch_size!r}")
        self.session = session
        self.answers = answers
        self.batch_size = int(batch_size) if batch_size is not None else None
        self.use_adapter = use_adapter
        self.batch_rows: list[int] = []

    def references(self, prompt: str) -> list[str]:
        """The document's answers to ``prompt``; a :class:`JudgeError` when it has none."""
        found = self.answers.get(normalize_text(prompt))
        if not found:
            raise JudgeError(no_reference(prompt))
        return found

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate: its best agreement with one of the document's answers."""
        references = self.references(prompt)
        self.batch_rows = []
        if not candidates:
            return []
        texts = list(dict.fromkeys(candidates))  # each distinct text is scored once
        best = [-math.inf] * len(texts)
        for reference in references:
            for i, value in enumerate(self.agreement(prompt, texts, reference)):
                best[i] = max(best[i], value)
        scores = dict(zip(texts, best, strict=True))
        return [scores[text] for text in candidates]

    def agreement(self, prompt: str, candidates: list[str], reference: str) -> list[float]:
        """Mean log p(reference token) after each candidate, in nats per token."""
        chat = self.session.chat
        target = chat.answer_ids(RESTATE, reference)[:-1]  # the answer's tokens, no end of turn
        if not target:
            raise JudgeError(f"the document's answer to {prompt!r} has no tokens")
        contexts = [self._context_ids(prompt, candidate) for candidate in candidates]
        # Load the model (on first use) outside inference mode: weights created
        # inside it would be inference tensors that training cannot touch later.
        model = self.session.model
        sums = [math.nan] * len(candidates)
        with torch.inference_mode():
            if self.use_adapter or self.session.adapter_path is None:
                self._logprob_sums(model, contexts, target, sums)
            else:
                with self.session.base_view() as base:
                    self._logprob_sums(base, contexts, target, sums)
        return [total / len(target) for total in sums]

    def _context_ids(self, prompt: str, candidate: str) -> list[int]:
        chat = self.session.chat
        messages = chat.messages(prompt, candidate)
        messages.append({"role": "user", "content": RESTATE})
        text: str = chat.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return chat.encode(text)

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Row indices, shortest first, cut where a batch would pass the token budget."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            rows = len(current) + 1
            fits = rows * lengths[i] <= TOKEN_BUDGET and (
                self.batch_size is None or rows <= self.batch_size
            )
            if current and not fits:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _logprob_sums(
        self, model: Any, contexts: list[list[int]], target: list[int], sums: list[float]
    ) -> None:
        """Fill ``sums[i]`` with the summed log-probability of ``target`` after ``contexts[i]``."""
        device = self.session.device
        pad_id = self.session.tokenizer.pad_token_id
        batches = self._batches([len(c) + len(target) for c in contexts])
        self.batch_rows.extend(len(batch) for batch in batches)
        answer = torch.tensor(target, device=device)
        for batch in batches:
            width = max(len(contexts[i]) for i in batch) + len(target)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids = contexts[i] + target
                input_ids[row, width - len(ids) :] = torch.tensor(ids)
                attention_mask[row, width - len(ids) :] = 1
            # Left padding: positions count real tokens only, so each row reads as if unpadded.
            position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
            output = model(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                position_ids=position_ids.to(device),
                logits_to_keep=len(target) + 1,
                use_cache=False,
            )
            # Kept positions run from the last context token on; position t predicts t + 1.
            logits = output.logits[:, :-1].float()
            picked = logits.gather(-1, answer.expand(len(batch), -1).unsqueeze(-1)).squeeze(-1)
            totals = (picked - torch.logsumexp(logits, dim=-1)).double().sum(dim=-1)
            for row, i in enumerate(batch):
                sums[i] = float(totals[row])
