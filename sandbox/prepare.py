"""Everything decided before a program reaches a worker: encoding, size, syntax, policy.

Each refusal is an ExecResult with a message the model can act on; nothing here raises for bad code.
"""

from __future__ import annotations

import traceback

from .types import ExecResult, Status

FILENAME = "main.py"


def decode_code(code: str | bytes) -> str | ExecResult:
    if isinstance(code, str):
        return code
    if isinstance(code, (bytes, bytearray, memoryview)):
        raw = bytes(code)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ExecResult(Status.REJECTED, error=(
                f"code is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} ({exc.reason})"))
    return ExecResult(Status.REJECTED, error=f"code must be str or bytes, not {type(code).__name__}")


def syntax_error_result(exc: BaseException) -> ExecResult:
    """What `python3 main.py` prints for source with NUL bytes (3.11 raises ValueError for them)."""
    if isinstance(exc, ValueError):
        stderr = "SyntaxError: source code cannot contain null bytes\n"
    else:
        exc.filename = FILENAME
        stderr = "".join(traceback.format_exception_only(type(exc), exc))
    return ExecResult(Status.ERROR, stderr=stderr, exit_code=1, error="the code does not compile")


def check_program(source: str, *, max_bytes: int, policy: bool, disabled_rules: frozenset[str]) -> ExecResult | None:
    """None if the program may run; else the result that refuses it."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return ExecResult(Status.REJECTED, error=f"code is {size} bytes; the limit is {max_bytes} bytes")
    if not source.strip():
        return None  # an empty program runs and prints nothing, as python3 does
    try:
        if policy:
            from .policy import check_code

            violations = check_code(source, disabled_rules=disabled_rules)
        else:
            import ast

            ast.parse(source, FILENAME)
            violations = []
    except SyntaxError:
        # Code that does not compile cannot do anything: the worker compiles it and the
        # interpreter's own printer reports it, character for character as python3 would.
        return None
    except ValueError as exc:
        return syntax_error_result(exc)
    except (MemoryError, RecursionError):
        return ExecResult(Status.REJECTED, error="code is too deeply nested to parse")
    if violations:
        return ExecResult(Status.REJECTED, error="refused by the sandbox policy: " + "; ".join(map(str, violations)))
    return None
