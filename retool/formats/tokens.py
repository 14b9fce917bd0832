"""Observation text to token ids: the one function the rollout and ``sft prepare`` both use.

Two kinds of text reach the tokenizer between model turns, and they must be encoded differently:

- **glue** (template text: ``<|im_end|>\\n<|im_start|>user\\n<tool_response>\\n``, ``<interpreter>`` tags):
  its special-token strings *are* the special tokens, so it is encoded normally;
- **observations** (what a program printed): plain text. A program that prints ``<|im_end|>`` must not
  end the turn, so it is encoded with special-token strings split into ordinary pieces.

`observation_ids` encodes a list of `Piece` s (glue or observation) piece by piece, so the token
boundaries are the same wherever the ids are built: SFT data and RL rollouts of the same trajectory
give the same ids (tests/test_formats.py proves it, for outputs that contain special-token text too).

Thread safety: transformers implements ``split_special_tokens=True`` by flipping a flag on the shared
Rust tokenizer for the duration of the call, so two threads encoding glue and observations at once
could each see the other's setting. Observations are therefore encoded with a private copy of the Rust
tokenizer whose flag is fixed (made once per tokenizer and kept on it), and the shared tokenizer's flag
is never touched: the rollout can run this work in worker threads, off the event loop. The copy is
called through ``encode_batch``/``decode_batch``, which release the GIL while Rust works, so those
threads really run beside the loop (a single ``encode`` holds the GIL throughout).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Piece", "encode_glue", "encode_observation", "observation_ids", "truncate_observation"]

_PLAIN_ATTR = "_retool_plain_text_tokenizer"


@dataclass(frozen=True)
class Piece:
    """A run of text between model turns: template glue (``observation=False``) or tool output."""

    text: str
    observation: bool = False


def encode_glue(tokenizer: Any, text: str) -> list[int]:
    """Template text: special-token strings in it are the real special tokens."""
    return list(tokenizer.encode(text, add_special_tokens=False)) if text else []


def encode_observation(tokenizer: Any, text: str) -> list[int]:
    """Tool output as plain text: a program that prints ``<|im_end|>`` must not end the turn."""
    if not text:
        return []
    plain = _plain_text_tokenizer(tokenizer)
    if plain is not None:  # encode_batch releases the GIL while Rust works (encode does not)
        return list(plain.encode_batch([text], add_special_tokens=False)[0].ids)
    try:  # a slow (Python) tokenizer: no shared Rust flag to race on
        return list(tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))
    except TypeError as exc:
        raise TypeError(
            f"{type(tokenizer).__name__} cannot encode text with special tokens split "
            "(split_special_tokens); use a transformers tokenizer"
        ) from exc


def observation_ids(tokenizer: Any, pieces: Iterable[Piece]) -> list[int]:
    """The ids of ``pieces`` in order, each encoded on its own (glue normally, observations as plain text)."""
    ids: list[int] = []
    for piece in pieces:
        ids += encode_observation(tokenizer, piece.text) if piece.observation else encode_glue(tokenizer, piece.text)
    return ids


def truncate_observation(text: str, tokenizer: Any, max_tokens: int) -> str:
    """``text`` cut in the middle so that `encode_observation` of the result has at most ``max_tokens`` ids.

    Cuts on token boundaries, then re-checks, because a decoded head and tail can re-tokenise a little
    differently from the original ids.
    """
    if max_tokens <= 0:
        return ""
    ids = encode_observation(tokenizer, text)
    if len(ids) <= max_tokens:
        return text
    decode = _decoder(tokenizer)
    keep = max_tokens
    for _ in range(8):
        marker = f"\n...[{len(ids) - keep} tokens omitted]...\n"
        keep_now = keep - len(encode_observation(tokenizer, marker))
        if keep_now <= 0:
            candidate = decode(ids[:max_tokens])
        else:
            head = keep_now - keep_now // 2
            tail = keep_now // 2
            candidate = decode(ids[:head]) + marker + (decode(ids[-tail:]) if tail else "")
        excess = len(encode_observation(tokenizer, candidate)) - max_tokens
        if excess <= 0:
            return candidate
        keep -= max(excess, 1)
        if keep <= 0:
            break
    # Fall back to a plain head cut that is certain to fit.
    head_ids = ids[:max_tokens]
    while head_ids:
        candidate = decode(head_ids)
        if len(encode_observation(tokenizer, candidate)) <= max_tokens:
            return candidate
        head_ids = head_ids[:-1]
    return ""


def _decoder(tokenizer: Any):
    """Decode observation ids (our own cut of tool output, never a model's text): through the plain-text
    copy's ``decode_batch``, which releases the GIL, when there is one."""
    plain = _plain_text_tokenizer(tokenizer)
    if plain is None:
        return tokenizer.decode
    return lambda ids: plain.decode_batch([list(ids)], skip_special_tokens=False)[0]


def _plain_text_tokenizer(tokenizer: Any) -> Any:
    """A copy of ``tokenizer``'s Rust tokenizer that always splits special-token strings, or None for a
    tokenizer without one. Made once and kept on the tokenizer object (its lifetime is the tokenizer's)."""
    plain = getattr(tokenizer, _PLAIN_ATTR, None)
    if plain is not None:
        return plain
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not hasattr(backend, "to_str"):
        return None
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(backend.to_str())
    plain.no_truncation()
    plain.no_padding()
    plain.encode_special_tokens = True
    try:
        object.__setattr__(tokenizer, _PLAIN_ATTR, plain)
    except (AttributeError, TypeError):  # a tokenizer that refuses attributes: rebuilt per call (slower)
        pass
    return plain
