"""The one home of the text formats a model sees: call formats (parse, render, stop strings),
observation formats, the tool schema, and observation text -> token ids. The rollout, the few-shot
prompts, ``sft`` and every framework adapter import them from here.
"""

from .calls import (
    CALL_FORMATS,
    CODE_CLOSE,
    CODE_OPEN,
    HERMES_CLOSE,
    HERMES_OPEN,
    CallFormat,
    ParsedCall,
    needs_continuation,
    parse_calls,
    parse_code,
    parse_function_call,
    parse_hermes,
    parse_python,
    render_call,
    stop_strings,
)
from .observations import (
    INTERPRETER_CLOSE,
    INTERPRETER_OPEN,
    ObservationFormat,
    TemplateError,
    chat_pieces,
    closing_token,
    interpreter_pieces,
    observation_pieces,
    render_chat,
    render_interpreter,
    tool_call_id,
)
from .schema import CODE_DESCRIPTION, DESCRIPTION, TOOL_NAME, tool_schema
from .tokens import Piece, encode_glue, encode_observation, observation_ids, truncate_observation

__all__ = [
    "CALL_FORMATS", "CODE_CLOSE", "CODE_OPEN", "HERMES_CLOSE", "HERMES_OPEN", "CallFormat", "ParsedCall",
    "needs_continuation", "parse_calls", "parse_code", "parse_function_call", "parse_hermes", "parse_python", "render_call",
    "stop_strings", "INTERPRETER_CLOSE", "INTERPRETER_OPEN", "ObservationFormat", "TemplateError", "chat_pieces", "closing_token",
    "interpreter_pieces", "observation_pieces", "render_chat", "render_interpreter", "tool_call_id",
    "CODE_DESCRIPTION", "DESCRIPTION", "TOOL_NAME", "tool_schema", "Piece", "encode_glue", "encode_observation",
    "observation_ids", "truncate_observation",
]
