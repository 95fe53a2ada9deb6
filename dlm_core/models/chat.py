"""The chat format shared by training rows, the sampler and the judges.

Everything that conditions the model on a user prompt goes through here, so
SFT rows, DPO rows, sampled candidates and sway scores see the same tokens:
the document's system prompt and the tokenizer's chat template, with the
answer tokenized separately from the prompt exactly as generation does it.
"""

from __future__ import annotations

from typing import Any

FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant: {% endif %}"
)


class ChatFormat:
    """Prompt and answer token ids under one tokenizer and system prompt."""

    def __init__(self, tokenizer: Any, system_prompt: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        if getattr(tokenizer, "chat_template", None) is None:
            tokenizer.chat_template = FALLBACK_TEMPLATE
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no end-of-sequence token")
        self.end_of_turn_id: int = int(tokenizer.eos_token_id)

    def messages(self, prompt: str, answer: str | None = None) -> list[dict[str, str]]:
        messages = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        if answer is not None:
            messages.append({"role": "assistant", "content": answer})
        return messages

    def prompt_text(self, prompt: str) -> str:
        """The templated conversation up to where the assistant starts writing."""
        text: str = self.tokenizer.apply_chat_template(
            self.messages(prompt), tokenize=False, add_generation_prompt=True
        )
        return text

    def prompt_ids(self, prompt: str) -> list[int]:
        return self.encode(self.prompt_text(prompt))

    def answer_ids(self, prompt: str, answer: str) -> list[int]:
        """The answer's tokens followed by the end-of-turn token, as the model would emit them."""
        prompt_text = self.prompt_text(prompt)
        full: str = self.tokenizer.apply_chat_template(
            self.messages(prompt, answer), tokenize=False, add_generation_prompt=False
        )
        if full.startswith(prompt_text):
            ids = self.encode(full[len(prompt_text) :])
            if self.end_of_turn_id in ids:
                return ids[: ids.index(self.end_of_turn_id) + 1]
            return [*ids, self.end_of_turn_id]
        # A template that renders the prompt differently once answered: fall back
        # to the answer text itself plus end-of-turn.
        return [*self.encode(answer), self.end_of_turn_id]

    def encode(self, text: str) -> list[int]:
        """Plain text to token ids, no special tokens added."""
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids
