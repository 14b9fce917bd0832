"""Observation formats: how tool output is put between two model turns, as `Piece` s of text.

- ``chat``: the output goes into ``tool`` messages rendered by the model's own chat template. What goes
  between the end of the assistant's text and the start of its next turn (the end-of-turn marker unless
  the model emitted it, the tool messages, the generation prompt) is found as the difference of two
  renderings around a sentinel assistant content, so earlier turns cannot shift it.
- ``interpreter``: ReTool's ``\\n<interpreter>\\n...\\n</interpreter>\\n`` appended inside the same
  assistant turn.

The rollout encodes the pieces with `retool.formats.tokens.observation_ids`; ``sft prepare`` builds the
same pieces for a recorded trace and encodes them with the same function; OpenRLHF's adapter sends the
joined text as ``environment_feedback``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .schema import TOOL_NAME
from .tokens import Piece

__all__ = [
    "ObservationFormat",
    "INTERPRETER_OPEN",
    "INTERPRETER_CLOSE",
    "TemplateError",
    "render_interpreter",
    "interpreter_pieces",
    "chat_pieces",
    "observation_pieces",
    "render_chat",
    "tool_call_id",
    "closing_token",
]

INTERPRETER_OPEN = "\n<interpreter>\n"
INTERPRETER_CLOSE = "\n</interpreter>\n"

# Markers put into chat-template renderings to find where the assistant turn ends and where each
# tool message's content goes; private-use code points never occur in real templates.
_ASSISTANT_SENTINEL = "\ue000retool-assistant\ue001"
_OBSERVATION_PLACEHOLDER = "\ue000retool-observation-{}\ue001"


class ObservationFormat(str, enum.Enum):
    """Where tool output goes: ``tool`` messages through the chat template, or ReTool's inline tags."""

    CHAT = "chat"
    INTERPRETER = "interpreter"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: "ObservationFormat | str") -> "ObservationFormat":
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"unknown observation format {value!r}; expected one of {tuple(f.value for f in cls)}"
            ) from None


class TemplateError(ValueError):
    """The chat template cannot place tool messages between turns the way a trajectory needs."""


def render_interpreter(text: str) -> str:
    """One observation exactly as the ``interpreter`` format appends it after the call."""
    return INTERPRETER_OPEN + text + INTERPRETER_CLOSE


def interpreter_pieces(texts: Sequence[str]) -> list[Piece]:
    pieces: list[Piece] = []
    for text in texts:
        pieces += [Piece(INTERPRETER_OPEN), Piece(text, observation=True), Piece(INTERPRETER_CLOSE)]
    return pieces


def closing_token(tokenizer: Any, text: str) -> str | None:
    """The special token (e.g. ``<|im_end|>``) ``text`` ends with, if any: a model turn that wrote its own
    end-of-turn, which the chat glue then must not repeat (`chat_pieces`' ``closed_by``)."""
    ends = [t for t in (getattr(tokenizer, "all_special_tokens", None) or ()) if t and text.endswith(t)]
    return max(ends, key=len) if ends else None


def tool_call_id(turn: int, index: int) -> str:
    """The id a rollout gives the ``index``-th call of assistant turn ``turn`` (templates may render it)."""
    return f"call_{turn}_{index}"


def chat_pieces(
    tokenizer: Any,
    texts: Sequence[str],
    messages: Sequence[Mapping[str, Any]],
    *,
    turn: int,
    closed_by: str | None = None,
    tool_name: str = TOOL_NAME,
    template_kwargs: Mapping[str, Any] | None = None,
) -> list[Piece]:
    """What the chat template puts after an assistant turn that made ``len(texts)`` calls, up to and
    including the next generation prompt. ``messages`` is the conversation before that assistant turn;
    ``closed_by`` is the end-of-turn text the model emitted itself (then it is not repeated)."""
    kwargs = dict(template_kwargs or {})
    base = list(messages) or [{"role": "user", "content": "?"}]
    assistant = {"role": "assistant", "content": _ASSISTANT_SENTINEL}
    placeholders = [_OBSERVATION_PLACEHOLDER.format(i) for i in range(len(texts))]
    tool_msgs = [
        {"role": "tool", "name": tool_name, "tool_call_id": tool_call_id(turn, i), "content": p}
        for i, p in enumerate(placeholders)
    ]
    closed = render_chat(tokenizer, base + [assistant], False, kwargs)
    full = render_chat(tokenizer, base + [assistant] + tool_msgs, True, kwargs)
    a, b = closed.rfind(_ASSISTANT_SENTINEL), full.rfind(_ASSISTANT_SENTINEL)
    if a < 0 or b < 0:
        raise TemplateError("the chat template dropped the assistant message; cannot place tool messages")
    end_of_turn = closed[a + len(_ASSISTANT_SENTINEL):]
    glue = full[b + len(_ASSISTANT_SENTINEL):]
    if not glue.startswith(end_of_turn):
        raise TemplateError(
            "the chat template renders the assistant turn's end differently when tool messages follow "
            f"({end_of_turn!r} vs {glue[:len(end_of_turn)]!r}); use observation_format='interpreter'"
        )
    if closed_by and glue.startswith(closed_by):
        glue = glue[len(closed_by):]
    parts = re.split("(" + "|".join(map(re.escape, placeholders)) + ")", glue) if placeholders else [glue]
    if any(p not in parts for p in placeholders):
        raise TemplateError("the chat template did not render the tool message content")
    by_placeholder = dict(zip(placeholders, texts))
    return [Piece(by_placeholder[p], observation=True) if p in by_placeholder else Piece(p) for p in parts if p]


def observation_pieces(
    fmt: ObservationFormat | str,
    tokenizer: Any,
    texts: Sequence[str],
    messages: Sequence[Mapping[str, Any]],
    *,
    turn: int,
    closed_by: str | None = None,
    tool_name: str = TOOL_NAME,
    template_kwargs: Mapping[str, Any] | None = None,
) -> list[Piece]:
    """The pieces for ``texts`` in ``fmt`` (see `chat_pieces` for the chat arguments)."""
    if ObservationFormat.parse(fmt) is ObservationFormat.INTERPRETER:
        return interpreter_pieces(texts)
    return chat_pieces(tokenizer, texts, messages, turn=turn, closed_by=closed_by, tool_name=tool_name,
                       template_kwargs=template_kwargs)


def render_chat(tokenizer: Any, messages: Sequence[Mapping[str, Any]], generation_prompt: bool,
                kwargs: Mapping[str, Any] | None = None) -> str:
    """The chat template's text for ``messages``."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt,
                                         **dict(kwargs or {}))
    if not isinstance(text, str):
        raise TypeError(f"apply_chat_template(tokenize=False) returned {type(text).__name__}, not str")
    return text
