"""Static policy: reject well-known sandbox-escape patterns before a program runs.

The real boundary is process isolation; this layer exists so that a model which writes an escape
attempt gets a prompt, precise refusal (rule id, line, column) instead of a confusing runtime
failure, and so that the cheap, obvious attacks never reach a worker at all.

It is an analysis only: the source is parsed and walked, never rewritten, and nothing of
RestrictedPython's runtime guard machinery (``_getattr_``, ``_print_``, ``_getiter_`` ...) is
installed. RestrictedPython's stock rules are written for untrusted *template* code that runs inside
those guards, which is why they forbid every ``_name``, ``print``, ``nonlocal``, ``async``,
``try/except*``, ``match`` and more; model-written math code needs all of those, so none of the
inherited visitors is used and only the escape patterns below are rejected.
"""

from __future__ import annotations

import _string  # CPython's own str.format field parser; the same one str.format uses
import ast
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

__all__ = ["FORBIDDEN_ATTRIBUTES", "RULES", "PolicyViolation", "check_code"]


@dataclass(frozen=True)
class PolicyViolation:
    rule: str
    line: int
    col: int  # 0-based character offset, like ast's col_offset but in characters, not bytes
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message} (rule: {self.rule})"


RULES: dict[str, str] = {
    "dunder-attribute": "reaching an introspection dunder that leads to globals, builtins, code or "
                        "the class graph (__globals__, __subclasses__, __mro__, __builtins__, ...), "
                        "as an attribute, a getattr-style name, a key or a dotted string",
    "frame-attribute": "reaching frame, traceback, generator, coroutine or code-object internals "
                       "(f_globals, f_back, tb_frame, gi_frame, co_code, sys._getframe, ...)",
    "dunder-name": "use of the names __builtins__, __import__, __loader__ or __spec__, also as "
                   "string keys",
    "dynamic-code": "use of exec, eval, compile or breakpoint, which run code the policy never saw",
    "dynamic-import": "importing through __import__ or importlib.import_module instead of an "
                      "import statement",
    "format-escape": "a format string whose replacement field walks into a forbidden attribute "
                     "(e.g. '{0.__class__.__mro__}')",
}

# Dunders that reach function globals, the builtins module, code objects, closures or the class
# graph (the classic ``().__class__.__bases__[0].__subclasses__()`` walk). ``__class__``,
# ``__dict__``, ``__name__``, ``__doc__`` and friends are deliberately absent: ordinary code uses them
# and on their own they lead nowhere dangerous.
_DUNDER_ATTRIBUTES = frozenset({
    "__subclasses__", "__globals__", "__builtins__", "__code__", "__closure__", "__mro__",
    "__bases__", "__base__", "__getattribute__", "__reduce__", "__reduce_ex__", "__loader__",
    "__spec__", "__import__",
    # builtin_function.__self__ is the builtins module itself (len.__self__.eval).
    "__self__",
})

# RestrictedPython's list of inspect-documented internals plus the sys helpers that hand out frames.
_FRAME_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES) | frozenset({
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "tb_frame", "tb_next", "gi_frame",
    "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "co_code", "_getframe",
    "_current_frames",
})

FORBIDDEN_ATTRIBUTES: frozenset[str] = _DUNDER_ATTRIBUTES | _FRAME_ATTRIBUTES

_DUNDER_NAMES = frozenset({"__builtins__", "__import__", "__loader__", "__spec__"})
_DYNAMIC_CODE_NAMES = frozenset({"exec", "eval", "compile", "breakpoint"})
# Functions whose constant string argument names an attribute that is then looked up.
_GETATTR_LIKE = frozenset({"getattr", "setattr", "delattr", "hasattr"})
_ATTRGETTER_LIKE = frozenset({"attrgetter", "methodcaller"})


def _attribute_rule(attr: str) -> str:
    return "frame-attribute" if attr in _FRAME_ATTRIBUTES else "dunder-attribute"


def _dotted_forbidden(text: str) -> str | None:
    """The forbidden step in an attribute path spelled as a string ("__init__.__globals__"), or None.

    Such strings feed ``reduce(getattr, s.split("."), obj)``, ``Formatter.get_field`` and similar
    lookups that no single getattr call site reveals.
    """
    if len(text) > 200 or len(text.split()) != 1:
        return None
    for part in text.replace("[", ".").replace("]", ".").split("."):
        if part in FORBIDDEN_ATTRIBUTES or part in _DUNDER_NAMES:
            return part
    return None


def _called_name(func: ast.expr) -> str | None:
    if type(func) is ast.Name:
        return func.id
    if type(func) is ast.Attribute:
        return func.attr
    return None


def _format_fields(text: str, depth: int = 0) -> Iterable[str]:
    """Replacement-field names of a format string; nested specs count, since "{0:{1.x}}" looks
    up ``1.x`` too."""
    for _literal, field, spec, _conv in _string.formatter_parser(text):
        if field:
            yield field
        # str.format itself gives up beyond two levels ("Max string recursion exceeded").
        if spec and "{" in spec and depth < 2:
            yield from _format_fields(spec, depth + 1)


def _format_escape(text: str) -> str | None:
    """The first forbidden step a str.format field in ``text`` takes, or None.

    str.format performs attribute and item lookups in C, out of reach of any runtime getattr guard,
    so the only place to stop ``"{0.__init__.__globals__}".format(obj)`` is here.
    """
    try:
        for field in _format_fields(text):
            first, rest = _string.formatter_field_name_split(field)
            if first in _DUNDER_NAMES:
                return first
            for is_attr, key in rest:
                if is_attr and key in FORBIDDEN_ATTRIBUTES:
                    return key
                if not is_attr and (key in FORBIDDEN_ATTRIBUTES or key in _DUNDER_NAMES):
                    return key
    except ValueError:
        # Not a valid format string ("{", "}{" ...): str.format would raise before any lookup.
        return None
    return None


# Fields holding only context/operator singletons: nothing to check below them, and skipping them
# saves a fifth of the walk.
_LEAF_FIELDS = frozenset({"ctx", "op", "ops"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


class PolicyChecker(RestrictingNodeTransformer):
    """Walks a parsed module and records escape patterns through RestrictedPython's ``error()``.

    Only the ``visit_*`` methods defined on this class run. Every inherited visitor either rewrites
    the tree for guards we never install or rejects ordinary code (``_x``, ``__init__``, ``print``,
    ``nonlocal``, ``async``, ``except*``, ``match``, augmented assignment on attributes, star
    imports, ...), so ``visit`` dispatches over this class's own table and visits every other node
    only to reach its children. The walk is iterative: deeply nested expressions that the parser
    accepts (long ``a + b + ...`` chains) must not hit the recursion limit here.
    """

    _handlers: dict[type, Callable[[PolicyChecker, ast.AST], None]] = {}

    def __init__(self, source: str, disabled_rules: frozenset[str] = frozenset()):
        super().__init__()
        self.violations: list[PolicyViolation] = []
        self._source = source
        self._lines: list[str] | None = None
        self._disabled = disabled_rules
        # Nodes already reported by an enclosing construct (the Name in ``__import__("os")``).
        self._covered: set[int] = set()

    # -- traversal ---------------------------------------------------------------------------

    def visit(self, node: ast.AST) -> ast.AST:
        handlers = self._handlers
        child_fields = _CHILD_FIELDS
        stack = [node]
        pop, push = stack.pop, stack.append
        AST = ast.AST
        while stack:
            current = pop()
            cls = type(current)
            handler = handlers.get(cls)
            if handler is not None:
                handler(self, current)
            fields = child_fields.get(cls)
            if fields is None:
                fields = child_fields[cls] = tuple(
                    f for f in cls._fields if f not in _LEAF_FIELDS)
            for field in fields:
                child = getattr(current, field, None)
                if type(child) is list:
                    # Lists may hold plain strings (Global.names) or None (Dict.keys for **spread).
                    for item in child:
                        if isinstance(item, AST):
                            push(item)
                elif isinstance(child, AST):
                    push(child)
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        # The base class rejects any node type it has not reviewed (TryStar, Match, TypeAlias...);
        # as an analyser we accept every node and only look for the patterns below.
        return self.visit(node)

    # -- reporting ---------------------------------------------------------------------------

    def _char_col(self, lineno: int, byte_col: int) -> int:
        # ast offsets count UTF-8 bytes; the model reads columns in characters.
        if self._lines is None:
            # Split only on the line breaks the tokenizer counts (str.splitlines also splits on
            # form feeds and other separators, which would shift line numbers).
            self._lines = self._source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if 0 < lineno <= len(self._lines):
            line = self._lines[lineno - 1]
            if not line.isascii():
                return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
        return byte_col

    def error(self, node: ast.AST, info: str, rule: str,  # type: ignore[override]
              position: tuple[int, int] | None = None) -> None:
        if rule in self._disabled:
            return
        super().error(node, info)
        if position is None:
            position = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        line, byte_col = position
        self.violations.append(
            PolicyViolation(rule, line, self._char_col(line, byte_col), info))

    def _cover(self, node: ast.AST, rule: str) -> None:
        # A child already reported by its parent's more specific message is not reported twice,
        # unless that rule is disabled and the child's own rule should still speak.
        if rule not in self._disabled:
            self._covered.add(id(node))

    def _report_attr(self, node: ast.AST, attr: str, how: str,
                     position: tuple[int, int] | None = None) -> None:
        rule = _attribute_rule(attr)
        if rule == "frame-attribute":
            why = "frame and code internals expose the interpreter's globals and builtins"
        else:
            why = "it leads to globals, builtins or arbitrary classes"
        self.error(node, f"{how} is not allowed: {why}", rule, position)

    # -- rules ---------------------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if id(node) in self._covered:
            return
        attr = node.attr
        if attr in FORBIDDEN_ATTRIBUTES:
            # Point at the attribute name itself, which may sit lines below the chain's start.
            line = node.end_lineno or node.lineno
            col = max((node.end_col_offset or 0) - len(attr.encode("utf-8")),
                      node.col_offset if line == node.lineno else 0)
            self._report_attr(node, attr, f"attribute '{attr}'", (line, col))
        elif attr in _DYNAMIC_CODE_NAMES and type(node.value) is ast.Name \
                and node.value.id == "builtins":
            self.error(node, f"'builtins.{attr}' is not allowed: it runs code that was never "
                             f"checked; write the code directly instead", "dynamic-code")

    def visit_Name(self, node: ast.Name) -> None:
        if id(node) in self._covered:
            return
        name = node.id
        if name in _DUNDER_NAMES:
            self.error(node, f"the name '{name}' is not allowed: it reaches the import machinery "
                             f"or the builtins module", "dunder-name")
        elif name in _DYNAMIC_CODE_NAMES and type(node.ctx) is ast.Load:
            self.error(node, f"'{name}' is not allowed: it runs code that was never checked; "
                             f"write the code directly instead", "dynamic-code")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = _called_name(func)
        if name is None:
            return
        if name == "__import__" or name == "import_module":
            self._cover(func, "dynamic-import")
            self.error(node, f"'{name}(...)' is not allowed: use an ordinary import statement",
                       "dynamic-import")
        elif name in _DYNAMIC_CODE_NAMES and type(func) is ast.Name:
            self._cover(func, "dynamic-code")
            self.error(node, f"calling '{name}' is not allowed: it runs code that was never "
                             f"checked; write the code directly instead", "dynamic-code")
        elif name in _GETATTR_LIKE:
            if len(node.args) >= 2:
                arg = node.args[1]
                if type(arg) is ast.Constant and type(arg.value) is str \
                        and arg.value in FORBIDDEN_ATTRIBUTES:
                    self._cover(arg, _attribute_rule(arg.value))
                    self._report_attr(arg, arg.value, f"{name}(..., '{arg.value}')")
        elif name in _ATTRGETTER_LIKE:
            args = node.args if name == "attrgetter" else node.args[:1]
            for arg in args:
                if type(arg) is ast.Constant and type(arg.value) is str:
                    steps = arg.value.split(".") if name == "attrgetter" else [arg.value]
                    bad = next((s for s in steps if s in FORBIDDEN_ATTRIBUTES), None)
                    if bad is not None:
                        self._cover(arg, _attribute_rule(bad))
                        self._report_attr(arg, bad, f"{name}('{arg.value}')")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        # globals()['__builtins__'], vars(type)['__subclasses__'], f.__dict__... by key.
        key = node.slice
        if type(key) is ast.Constant and type(key.value) is str:
            value = key.value
            if value in _DUNDER_NAMES:
                self._cover(key, "dunder-name")
                self.error(key, f"the key '{value}' is not allowed: it reaches the import "
                                f"machinery or the builtins module", "dunder-name")
            elif value in FORBIDDEN_ATTRIBUTES:
                self._cover(key, _attribute_rule(value))
                self._report_attr(key, value, f"the key '{value}'")

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if type(value) is not str or id(node) in self._covered:
            return
        if value in _DUNDER_NAMES:
            # d.get('__builtins__'), case {'__builtins__': b}: a namespace lookup by key.
            self.error(node, f"the string '{value}' is not allowed: as a key or name it reaches "
                             f"the import machinery or the builtins module", "dunder-name")
        elif value in FORBIDDEN_ATTRIBUTES:
            self._report_attr(node, value, f"the string '{value}'")
        elif "{" in value:
            bad = _format_escape(value)
            if bad is not None:
                self.error(node, f"format string field reaches '{bad}': str.format cannot be "
                                 f"allowed to walk into it", "format-escape")
        elif "." in value or "[" in value:
            bad = _dotted_forbidden(value)
            if bad is not None:
                self._report_attr(node, bad, f"the attribute path '{value}'")

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        # ``case object(__globals__=g)`` is a getattr in disguise.
        for attr in node.kwd_attrs:
            if attr in FORBIDDEN_ATTRIBUTES:
                self._report_attr(node, attr, f"the class pattern keyword '{attr}'")

    def _check_import_aliases(self, node: ast.Import | ast.ImportFrom, module: str | None) -> None:
        for alias in node.names:
            for name in (alias.name, alias.asname):
                if name is None:
                    continue
                if name in _DUNDER_NAMES:
                    self.error(node, f"importing '{name}' is not allowed: it reaches the import "
                                     f"machinery or the builtins module", "dunder-name")
                elif name in FORBIDDEN_ATTRIBUTES:
                    self._report_attr(node, name, f"importing '{name}'")
                elif module == "builtins" and name in _DYNAMIC_CODE_NAMES:
                    self.error(node, f"importing '{name}' from builtins is not allowed: it runs "
                                     f"code that was never checked", "dynamic-code")
                elif module == "importlib" and name == "import_module":
                    self.error(node, "importing 'import_module' is not allowed: use an ordinary "
                                     "import statement", "dynamic-import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._check_import_aliases(node, node.module)

    def visit_Import(self, node: ast.Import) -> None:
        self._check_import_aliases(node, None)

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg in _DUNDER_NAMES:
            self.error(node, f"the parameter name '{node.arg}' is not allowed: it shadows the "
                             f"import machinery or the builtins module", "dunder-name")


PolicyChecker._handlers = {
    getattr(ast, name[len("visit_"):]): function
    for name, function in vars(PolicyChecker).items()
    if name.startswith("visit_") and name != "visit"
}


@functools.lru_cache(maxsize=512)
def _check_cached(source: str, disabled_rules: frozenset[str]) -> tuple[PolicyViolation, ...]:
    # Parse errors propagate as the parser raised them: SyntaxError, ValueError for null bytes on
    # 3.11, RecursionError/MemoryError for absurd nesting. The caller tells them apart, and must
    # refuse the last two rather than run what could not be checked (a worker whose recursion
    # limit an earlier cell raised might compile it).
    tree = ast.parse(source)
    checker = PolicyChecker(source, disabled_rules)
    checker.visit(tree)
    return tuple(sorted(checker.violations, key=lambda v: (v.line, v.col)))


def check_code(source: str, *,
               disabled_rules: frozenset[str] | set[str] = frozenset()) -> list[PolicyViolation]:
    """Empty list = accepted. Raises SyntaxError unchanged if the source does not parse (the caller
    formats it like python does)."""
    disabled = frozenset(disabled_rules)
    unknown = disabled - RULES.keys()
    if unknown:
        raise ValueError(f"unknown policy rule id(s): {sorted(unknown)}; known: {sorted(RULES)}")
    return list(_check_cached(source, disabled))
