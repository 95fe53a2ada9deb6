"""The document's chat format, carried into exported models.

Two jobs: give a Jinja chat template the document's system prompt as its
default (so a plain ``apply_chat_template`` of a user turn renders what dlm
trained on), and translate a chat template into an Ollama ``TEMPLATE``.

The translation is read off the template itself rather than looked up by
model family: the template is rendered around marker texts, the pieces
between the markers (how a system, user and assistant turn open and close)
are cut out, and the conversation is rebuilt from those pieces and checked
against the template's own rendering. A template whose turns cannot be cut
into such pieces is refused with a clear error rather than guessed.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from dlm_core.errors import ExportError

SYSTEM_MARK = "dlmSYSTEMmark"
USER_MARK = "dlmUSERmark"
ANSWER_MARK = "dlmANSWERmark"
NEXT_MARK = "dlmNEXTmark"


def with_default_system(template: str, system_prompt: str | None) -> str:
    """``template`` that puts ``system_prompt`` first when a conversation brings no system turn."""
    if not system_prompt:
        return template
    literal = json.dumps(system_prompt, ensure_ascii=False)
    prefix = (
        "{%- if not messages or messages[0]['role'] != 'system' -%}"
        f"{{%- set messages = [{{'role': 'system', 'content': {literal}}}] + messages -%}}"
        "{%- endif -%}"
    )
    return prefix + template


@attrs.frozen
class TurnPieces:
    """How each turn of a chat template opens and closes.

    A user turn renders as ``user_open + text + reply_open`` (the end of the
    user turn and the start of the assistant's, which always follows it);
    an assistant turn as ``text + answer_close``.

    :ivar start: text the template puts before every conversation, less a
        beginning-of-sequence token that the runtime adds by itself.
    :ivar default_system: the system text the template inserts when a
        conversation has none, if any.
    """

    start: str
    system_open: str
    system_close: str
    user_open: str
    reply_open: str
    answer_close: str
    default_system: str | None

    def render(self, messages: list[dict[str, str]]) -> str:
        """The conversation as the Ollama template built from these pieces renders it."""
        parts = [self.start]
        for index, message in enumerate(messages):
            if message["role"] == "system":
                parts += [self.system_open, message["content"], self.system_close]
            elif message["role"] == "user":
                parts += [self.user_open, message["content"], self.reply_open]
            else:
                parts.append(message["content"])
                if index < len(messages) - 1:
                    parts.append(self.answer_close)
        return "".join(parts)

    def ollama_template(self) -> str:
        """The Go template Ollama fills with ``.Messages`` (SYSTEM arrives as the first message)."""
        pieces = (
            self.start,
            self.system_open,
            self.system_close,
            self.user_open,
            self.reply_open,
            self.answer_close,
        )
        if any("{{" in piece or '"""' in piece for piece in pieces):
            raise ExportError(
                "the chat template's turn markers cannot be written as an Ollama TEMPLATE"
            )
        return (
            f"{self.start}"
            "{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}"
            f'{{{{ if eq .Role "system" }}}}{self.system_open}{{{{ .Content }}}}{self.system_close}'
            f'{{{{ else if eq .Role "user" }}}}{self.user_open}{{{{ .Content }}}}{self.reply_open}'
            f'{{{{ else if eq .Role "assistant" }}}}{{{{ .Content }}}}'
            f"{{{{ if not $last }}}}{self.answer_close}{{{{ end }}}}"
            "{{ end }}{{ end }}"
        )


def _between(text: str, start: str | None, end: str | None) -> str:
    begin = 0 if start is None else text.index(start) + len(start)
    stop = len(text) if end is None else text.index(end, begin)
    return text[begin:stop]


def _runtime_bos(tokenizer: Any) -> str:
    """The BOS token's text when encoding adds it (llama.cpp and Ollama then add it too), else ''."""
    bos = tokenizer.bos_token
    if not bos or tokenizer.bos_token_id is None:
        return ""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return str(bos) if ids[:1] == [tokenizer.bos_token_id] else ""


def turn_pieces(tokenizer: Any) -> TurnPieces:
    """Cut ``tokenizer``'s chat template into turn pieces, checked against its own rendering.

    :raises ExportError: when the template's turns do not cut into fixed pieces.
    """
    marked = _MarkedRenderings.of(tokenizer)
    pieces = _pieces_between_marks(marked)
    bos = _runtime_bos(tokenizer)
    pieces = _without_runtime_bos(pieces, bos)
    lead = bos if bos and marked.prompt.startswith(bos) else ""
    _check_against_template(tokenizer, pieces, lead)
    return pieces


_SYSTEM = {"role": "system", "content": SYSTEM_MARK}
_USER = {"role": "user", "content": USER_MARK}
_ANSWER = {"role": "assistant", "content": ANSWER_MARK}
_FOLLOWING = {"role": "user", "content": NEXT_MARK}


def _render(tokenizer: Any, messages: list[dict[str, str]], generation: bool) -> str:
    text: str = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation
    )
    return text


@attrs.frozen
class _MarkedRenderings:
    """The texts between the markers in the template's renderings of four small conversations.

    Each piece of a turn is read off one of them; :func:`_pieces_between_marks`
    then checks the renderings agree with each other.
    """

    prompt: str  # system and user turns, with the generation prompt
    head: str  # before the system text
    system_to_user: str
    reply_open: str  # after the user text, with the generation prompt
    answer_close: str  # after the last answer
    answer_to_next: str  # from an answer to the next user text
    before_user: str  # before the user text of a conversation with no system turn

    @classmethod
    def of(cls, tokenizer: Any) -> _MarkedRenderings:
        """Render and cut; a template that drops or reorders a marker cannot be read."""
        try:
            prompt = _render(tokenizer, [_SYSTEM, _USER], True)
            answered = _render(tokenizer, [_SYSTEM, _USER, _ANSWER], False)
            two_turns = _render(tokenizer, [_SYSTEM, _USER, _ANSWER, _FOLLOWING], True)
            bare = _render(tokenizer, [_USER], True)
            return cls(
                prompt=prompt,
                head=_between(prompt, None, SYSTEM_MARK),
                system_to_user=_between(prompt, SYSTEM_MARK, USER_MARK),
                reply_open=_between(prompt, USER_MARK, None),
                answer_close=_between(answered, ANSWER_MARK, None),
                answer_to_next=_between(two_turns, ANSWER_MARK, NEXT_MARK),
                before_user=_between(bare, None, USER_MARK),
            )
        except (ValueError, TypeError) as exc:
            raise ExportError(f"cannot read the chat template's turns: {exc}") from None


def _pieces_between_marks(marked: _MarkedRenderings) -> TurnPieces:
    """The turn pieces as the template renders them (a runtime BOS still in them).

    Only a template that closes every answer and opens every user turn the
    same way can become one Ollama TEMPLATE, so anything else is refused here.
    """
    answer_close, answer_to_next = marked.answer_close, marked.answer_to_next
    if not answer_close or not answer_to_next.startswith(answer_close):
        raise ExportError(
            "the chat template closes an answer differently mid-conversation and at its end"
        )
    user_open = answer_to_next[len(answer_close) :]
    system_to_user, before_user = marked.system_to_user, marked.before_user
    if not system_to_user.endswith(user_open) or not before_user.endswith(user_open):
        raise ExportError("the chat template opens the first user turn differently from later ones")
    system_close = system_to_user[: len(system_to_user) - len(user_open)]
    opening = before_user[: len(before_user) - len(user_open)]
    head = marked.head
    default = None
    if head.startswith(opening):
        start = opening  # what precedes every conversation; the system turn opens after it
    elif opening.startswith(head) and opening.endswith(system_close):
        # The template adds its own system turn; Ollama always gets one (SYSTEM), so whatever
        # precedes it can open the system turn.
        start = ""
        default = opening[len(head) : len(opening) - len(system_close)]
    else:
        raise ExportError("the chat template starts a conversation in a way dlm cannot translate")
    return TurnPieces(
        start,
        head[len(start) :],
        system_close,
        user_open,
        marked.reply_open,
        answer_close,
        default,
    )


def _without_runtime_bos(pieces: TurnPieces, bos: str) -> TurnPieces:
    """``pieces`` less the BOS that llama.cpp and Ollama add themselves (else it would be doubled)."""
    if bos and pieces.start.startswith(bos):
        return attrs.evolve(pieces, start=pieces.start[len(bos) :])
    if bos and pieces.system_open.startswith(bos) and pieces.default_system is not None:
        return attrs.evolve(pieces, system_open=pieces.system_open[len(bos) :], start="")
    return pieces


def _check_against_template(tokenizer: Any, pieces: TurnPieces, lead: str) -> None:
    """Rebuild conversations from ``pieces`` and compare them with the template's own rendering.

    The cut is read off a few renderings; this catches templates whose turns
    change with position or content, which no fixed pieces can reproduce.
    """
    checks = [
        [_USER],
        [_SYSTEM, _USER],
        [_SYSTEM, _USER, _ANSWER, _FOLLOWING],
        [_USER, _ANSWER, _FOLLOWING],
    ]
    default = pieces.default_system
    for messages in checks:
        shown = messages
        if messages[0]["role"] != "system" and default is not None:
            shown = [{"role": "system", "content": default}, *messages]
        if lead + pieces.render(shown) != _render(tokenizer, messages, True):
            raise ExportError(
                "the chat template does not cut into fixed turn markers; "
                "cannot write an Ollama TEMPLATE"
            )


def stop_texts(tokenizer: Any, token_ids: list[int]) -> list[str]:
    """The texts of the end-of-turn tokens, for Ollama's ``PARAMETER stop``."""
    texts = []
    for token_id in token_ids:
        text = tokenizer.convert_ids_to_tokens(int(token_id))
        if isinstance(text, str) and text and text not in texts:
            texts.append(text)
    return texts
