"""``python -m sft prepare``: ReTool-SFT traces to the layout a trainer reads.

- ``slime``: ``messages = [user, assistant]`` with role/content only (slime's SFT rollout,
  ``--input-key messages``). Unlike slime's own script, which copies the text as is, every trace is
  parsed and re-rendered in the exact bytes our rollout produces in its ``code``/``interpreter``
  formats, and rows that would teach a broken format are dropped with a reason.
- ``openai``: the user question, then per code cell an assistant message with ``tool_calls`` to
  ``code_interpreter`` and a ``tool`` message with the recorded output, then the final assistant
  message; plus ``tools`` (a list with the tool's schema). This is what verl's multi-turn SFT reads
  (``messages_key=messages``, ``tools_key=tools``): its dataset hands ``tools`` to
  ``apply_chat_template`` as is, which needs a list (``--tools-json`` writes the JSON string of verl's
  older recipe instead). Arguments stay a dict as in verl's recipe, because chat templates serialise a
  dict with ``tojson`` and would double-encode a string.
- ``tokens``: ``input_ids`` and an assistant-only ``loss_mask`` through a tokenizer's chat template,
  in one of two layouts (``--template``): ``chat`` renders the openai messages (tool calls through the
  template); ``retool`` renders the slime messages and masks each ``<interpreter>`` observation inside
  the assistant turn, as the ReTool paper does. Both are built piece by piece the way the rollout
  builds a trajectory (prompt glue and observations masked, model text trained), and every row is
  checked: the trained tokens must decode exactly to the trained text, or the row is dropped.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable

from retool.formats import (
    INTERPRETER_CLOSE,
    INTERPRETER_OPEN,
    TOOL_NAME,
    Piece,
    TemplateError,
    chat_pieces,
    closing_token,
    interpreter_pieces,
    observation_ids,
    render_chat,
    tool_schema,
)

from .io import Progress, Report, RowIssue, count_rows, read_rows, write_rows
from .retool_format import Trace, parse_row, render_trace, user_prompt

__all__ = [
    "FORMATS",
    "PrepareOptions",
    "to_slime",
    "to_openai",
    "tool_schema",
    "TokenEncoder",
    "convert_rows",
    "prepare_file",
    "add_arguments",
    "run",
]

FORMATS = ("slime", "openai", "tokens")


@dataclass(frozen=True)
class PrepareOptions:
    """How rows are written. ``prompt``: ``original`` keeps ReTool's instructions before the question
    (the prompt the traces were generated with), ``question`` keeps the question alone (the tool
    schema then tells the model about the tool). None picks per format: original for slime and for
    tokens with the retool template, question for openai and tokens with the chat template."""

    format: str = "slime"
    prompt: str | None = None
    system: str | None = None
    template: str = "chat"  # tokens only: chat | retool
    max_tokens: int | None = None  # tokens only: longer rows are dropped
    tools_json: bool = False  # openai only: ``tools`` as a JSON string instead of a list

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; expected one of {FORMATS}")
        if self.prompt not in (None, "original", "question"):
            raise ValueError(f"unknown prompt style {self.prompt!r}; expected original or question")
        if self.template not in ("chat", "retool"):
            raise ValueError(f"unknown template {self.template!r}; expected chat or retool")

    @property
    def keep_instructions(self) -> bool:
        if self.prompt is not None:
            return self.prompt == "original"
        return self.format == "slime" or (self.format == "tokens" and self.template == "retool")


def _head(trace: Trace, opts: PrepareOptions) -> list[dict[str, Any]]:
    head = [{"role": "system", "content": opts.system}] if opts.system else []
    head.append({"role": "user", "content": user_prompt(trace, keep_instructions=opts.keep_instructions)})
    return head


def slime_messages(trace: Trace, opts: PrepareOptions) -> list[dict[str, Any]]:
    return _head(trace, opts) + [{"role": "assistant", "content": render_trace(trace)}]


def openai_messages(trace: Trace, opts: PrepareOptions) -> list[dict[str, Any]]:
    messages = _head(trace, opts)
    for cell in trace.cells:
        messages.append({
            "role": "assistant",
            "content": cell.text,
            "tool_calls": [{"type": "function", "function": {"name": TOOL_NAME, "arguments": {"code": cell.code}}}],
        })
        messages.append({"role": "tool", "content": cell.output})
    messages.append({"role": "assistant", "content": trace.final_content})
    return messages


def to_slime(trace: Trace, opts: PrepareOptions | None = None) -> dict[str, Any]:
    return {"messages": slime_messages(trace, opts or PrepareOptions("slime"))}


def to_openai(trace: Trace, opts: PrepareOptions | None = None, *, tools: Any = None) -> dict[str, Any]:
    opts = opts or PrepareOptions("openai")
    if tools is None:
        tools = json.dumps([tool_schema()]) if opts.tools_json else [tool_schema()]
    return {"messages": openai_messages(trace, opts), "tools": tools}


# ------------------------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class _Span:
    """A run of the rendered conversation: model text (``trained``), or a `Piece` of glue/tool output."""

    text: str
    trained: bool = False
    observation: bool = False


class TokenEncoder:
    """Token ids and an assistant-only loss mask for one trace, through a chat template.

    The conversation is cut into pieces, each rendered as the difference of two template renders
    (so the template stays the single source of truth for glue), and each piece is tokenised on its
    own. What lies between two assistant turns (tool outputs and their template glue) is built by
    `retool.formats.chat_pieces` / `interpreter_pieces` and encoded by `retool.formats.observation_ids`,
    the functions the rollout uses, so SFT and RL give the same ids for the same trajectory, including
    outputs that contain special-token text. Whitespace a template puts after the end-of-turn token is
    glue (the model stops at the token) and is not trained.
    """

    def __init__(self, tokenizer: Any, opts: PrepareOptions) -> None:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("the tokenizer has no chat template; pass a chat model's tokenizer")
        self.tok = tokenizer
        self.opts = opts
        self.tools = [tool_schema()] if opts.template == "chat" else None

    @classmethod
    def from_path(cls, path: str, opts: PrepareOptions) -> "TokenEncoder":
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(path), opts)

    def _render(self, messages: list[dict[str, Any]], generation_prompt: bool = False) -> str:
        return render_chat(self.tok, messages, generation_prompt, {"tools": self.tools} if self.tools else None)

    def _encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False) if text else []

    def pieces(self, trace: Trace) -> list[_Span]:
        """Spans whose concatenation is the full rendered conversation."""
        if self.opts.template == "chat":
            messages = openai_messages(trace, self.opts)
        else:
            messages = slime_messages(trace, self.opts)
        spans: list[_Span] = []
        done = ""
        k = 0
        turn = 0
        while k < len(messages):
            msg = messages[k]
            full = self._render(messages[: k + 1])
            if not full.startswith(done):
                raise RowIssue("template_not_prefix_stable",
                               f"rendering message {k} changes the text of earlier messages; this template "
                               "cannot be trained turn by turn")
            if msg["role"] != "assistant":
                spans.append(_Span(full[len(done):]))
                done = full
                k += 1
                continue
            turn += 1
            prompt = self._render(messages[:k], generation_prompt=True)
            if not prompt.startswith(done) or not full.startswith(prompt):
                raise RowIssue("template_not_prefix_stable",
                               f"the generation prompt before message {k} is not a prefix of its rendering")
            spans.append(_Span(prompt[len(done):]))
            rendered = full[len(prompt):]
            body = rendered.rstrip()
            j = k + 1
            while j < len(messages) and messages[j]["role"] == "tool":
                j += 1
            if j > k + 1 and j < len(messages) and messages[j]["role"] == "assistant":
                # tool outputs, then the next assistant turn: the rollout's observation pieces
                spans.append(_Span(body, trained=True))
                outputs = [m["content"] for m in messages[k + 1:j]]
                try:
                    obs = chat_pieces(self.tok, outputs, messages[:k], turn=turn, closed_by=closing_token(self.tok, body),
                                      tool_name=TOOL_NAME, template_kwargs={"tools": self.tools} if self.tools else None)
                except TemplateError as exc:
                    raise RowIssue("template_tool_glue", str(exc)) from None
                following = self._render(messages[:j], generation_prompt=True)
                if not following.startswith(prompt + body):
                    raise RowIssue("template_not_prefix_stable",
                                   f"assistant message {k} renders differently once later messages follow it")
                if prompt + body + "".join(p.text for p in obs) != following:
                    raise RowIssue("template_tool_glue",
                                   f"the tool messages after assistant message {k} render differently from the "
                                   "rollout's observation glue")
                spans += [_Span(p.text, observation=p.observation) for p in obs]
                done = following
                k = j
                continue
            if self.opts.template == "retool":
                spans.extend(self._split_observations(body))
            else:
                spans.append(_Span(body, trained=True))
            spans.append(_Span(rendered[len(body):]))
            done = full
            k += 1
        return [s for s in spans if s.text]

    def _split_observations(self, body: str) -> list[_Span]:
        out: list[_Span] = []
        pos = 0
        while True:
            i = body.find(INTERPRETER_OPEN, pos)
            if i == -1:
                out.append(_Span(body[pos:], trained=True))
                return out
            j = body.find(INTERPRETER_CLOSE, i + len(INTERPRETER_OPEN))
            if j == -1:
                raise RowIssue("unclosed_output", "an <interpreter> observation is not closed in the rendered turn")
            out.append(_Span(body[pos:i], trained=True))
            output = body[i + len(INTERPRETER_OPEN):j]
            out += [_Span(p.text, observation=p.observation) for p in interpreter_pieces([output])]
            pos = j + len(INTERPRETER_CLOSE)

    def encode(self, trace: Trace) -> dict[str, Any]:
        ids: list[int] = []
        mask: list[int] = []
        trained_text: list[str] = []
        trained_ids: list[int] = []
        for span in self.pieces(trace):
            if span.trained:
                piece = self._encode(span.text)
                trained_text.append(span.text)
                trained_ids += piece
            else:
                piece = observation_ids(self.tok, [Piece(span.text, span.observation)])
            ids += piece
            mask += [int(span.trained)] * len(piece)
        if not trained_ids:
            raise RowIssue("no_trained_tokens", "the assistant turns encode to no tokens")
        decoded = self.tok.decode(trained_ids, skip_special_tokens=False)
        if decoded != "".join(trained_text):
            raise RowIssue("mask_mismatch", "the trained tokens do not decode to the assistant text "
                                            f"({decoded[:60]!r} vs {''.join(trained_text)[:60]!r})")
        if self.opts.max_tokens is not None and len(ids) > self.opts.max_tokens:
            raise RowIssue("too_long", f"{len(ids)} tokens > --max-tokens {self.opts.max_tokens}")
        return {"input_ids": ids, "loss_mask": mask, "num_tokens": len(ids), "num_trained_tokens": len(trained_ids)}


# ------------------------------------------------------------------------------------------- driver
def _converter(opts: PrepareOptions, encoder: TokenEncoder | None) -> Callable[[Trace], dict[str, Any]]:
    if opts.format == "slime":
        return lambda t: to_slime(t, opts)
    if opts.format == "openai":
        tools = json.dumps([tool_schema()]) if opts.tools_json else [tool_schema()]
        return lambda t: to_openai(t, opts, tools=tools)
    if encoder is None:
        raise ValueError("--format tokens needs --tokenizer PATH (a tokenizer with a chat template)")
    return encoder.encode


def convert_rows(rows: Iterable[Mapping[str, Any]], opts: PrepareOptions, report: Report, *,
                 encoder: TokenEncoder | None = None, progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Converted rows in input order; a bad row is recorded in ``report`` and skipped."""
    convert = _converter(opts, encoder)
    counters = report.counters
    for index, row in enumerate(rows):
        report.rows_in += 1
        if progress is not None:
            progress.update()
        try:
            trace = parse_row(row)
            out = convert(trace)
        except RowIssue as issue:
            report.drop(index, issue)
            continue
        report.rows_out += 1
        counters["code_cells"] += len(trace.cells)
        counters["assistant_turns"] += len(trace.cells) + 1
        if not trace.cells:
            counters["rows_without_code"] += 1
        if "num_tokens" in out:
            counters["tokens"] += out["num_tokens"]
            counters["trained_tokens"] += out["num_trained_tokens"]
        yield out


def prepare_file(input_path: str, output_path: str, opts: PrepareOptions, *, tokenizer: str | None = None,
                 limit: int | None = None, progress: bool = False) -> Report:
    encoder = TokenEncoder.from_path(tokenizer, opts) if opts.format == "tokens" and tokenizer else None
    report = Report()
    total = count_rows(input_path)
    total = min(total, limit) if limit is not None else total
    rows: Iterable[Mapping[str, Any]] = read_rows(input_path)
    if limit is not None:
        rows = (r for i, r in zip(range(limit), rows))
    with Progress(total, f"prepare {opts.format}", enabled=progress) as bar:
        converted = list(convert_rows(rows, opts, report, encoder=encoder, progress=bar))
    write_rows(converted, output_path)
    return report


def add_arguments(p) -> None:
    p.add_argument("--input", required=True, help="ReTool-SFT rows: .parquet, .jsonl, .json or a directory of shards")
    p.add_argument("--output", required=True, help="where to write: .parquet or .jsonl")
    p.add_argument("--format", choices=FORMATS, default="slime",
                   help="slime: role/content messages; openai: tool_calls + tool messages + tools; tokens: ids + loss mask")
    p.add_argument("--prompt", choices=("original", "question"), default=None,
                   help="user message: ReTool's instructions + question, or the question alone (default per format)")
    p.add_argument("--system", default=None, help="a system message to put first")
    p.add_argument("--tokenizer", default=None, help="tokens: a tokenizer directory with a chat template")
    p.add_argument("--template", choices=("chat", "retool"), default="chat",
                   help="tokens: render openai tool calls (chat) or ReTool's inline text with observations masked (retool)")
    p.add_argument("--tools-json", action="store_true",
                   help="openai: write tools as a JSON string (verl's older recipe) instead of a list")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens: drop rows longer than this")
    p.add_argument("--limit", type=int, default=None, help="convert only the first N rows")
    p.add_argument("--report", default=None, help="write the full report (every dropped row) as JSON here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    opts = PrepareOptions(format=args.format, prompt=args.prompt, system=args.system,
                          template=args.template, max_tokens=args.max_tokens, tools_json=args.tools_json)
    if opts.format == "tokens" and not args.tokenizer:
        raise ValueError("--format tokens needs --tokenizer PATH (a tokenizer with a chat template)")
    started = time.perf_counter()
    report = prepare_file(args.input, args.output, opts, tokenizer=args.tokenizer, limit=args.limit,
                          progress=not args.no_progress)
    elapsed = time.perf_counter() - started
    report.counters["seconds"] = round(elapsed, 3)
    if args.report:
        from pathlib import Path

        Path(args.report).write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    print(report.format(f"prepare --format {opts.format} -> {args.output}"), file=sys.stderr)
    return 0 if report.rows_out else 1
