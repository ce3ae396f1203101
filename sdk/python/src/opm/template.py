"""Local rendering, the same as the server's (crates/opm-core/src/template.rs): minijinja 3.1 in
semi-strict mode, no auto-escaping, the same fuel budget and output limit, the same variable checks
(undeclared, then wrongly typed, then missing) with the server's messages, and the server's
include reference syntax.

Where the PyPI `minijinja` package differs from the server's Rust build, the environment is brought
in line: Python-only filters, tests and globals (minijinja-contrib's, `urlencode`) are removed,
Python method calls (`pycompat`) are off, debug-enriched error text is off, and mapping values are
passed with their keys sorted (the server's JSON objects iterate in key order). What cannot be
aligned is listed in the SDK's README ("Rendering parity").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import minijinja

from .errors import RenderError

MAX_INCLUDE_DEPTH = 5
MAX_INCLUDE_VISITS = 64
RENDER_FUEL = 250_000
MAX_OUTPUT_BYTES = 1024 * 1024

# What the server's minijinja build (features: builtins, json, macros, multi_template, …; no
# urlencode, no contrib) provides; anything else the Python package adds is removed.
SERVER_FILTERS = frozenset(
    "safe escape e lower upper title capitalize replace length count dictsort items reverse trim join split "
    "lines default d round abs int float attr first last min max sort list string bool batch slice sum indent "
    "select reject selectattr rejectattr map groupby unique chain zip pprint format tojson".split()
)
SERVER_TESTS = frozenset(
    "undefined defined none safe escaped boolean odd even divisibleby number integer int float string sequence "
    "iterable mapping startingwith endingwith lower upper sameas eq equalto == ne != lt lessthan < le <= gt "
    "greaterthan > ge >= in true false filter test".split()
)
SERVER_GLOBALS = frozenset(["range", "dict", "debug", "namespace"])
# Filters the PyPI package registers beyond SERVER_FILTERS (minijinja-contrib and the urlencode
# feature); its tests are the server's. tests/test_render_parity.py checks both lists.
PYTHON_ONLY_FILTERS = ("filesizeformat", "pluralize", "striptags", "truncate", "urlencode", "wordwrap",
                       "wordcount", "random", "datetimeformat", "dateformat", "timeformat")

_INCLUDE_STATEMENT = re.compile(r"\{%[-+]?\s*include\s+(.*?)\s*[-+]?%\}")
_STRING_LITERAL = re.compile(r"""^(?:"([^"\\]*)"|'([^'\\]*)')$""")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_VERSION = re.compile(r"^\+?[0-9]+$")

Rendered = Union[List[Dict[str, str]], str]


@dataclass(frozen=True)
class IncludeRef:
    """`name` (resolved at the caller's label) or `name@N` (pinned)."""

    prompt: str
    version: Optional[int]

    @property
    def template_name(self) -> str:
        return self.prompt if self.version is None else f"{self.prompt}@{self.version}"


def _invalid_include(text: str) -> RenderError:
    return RenderError(
        f"invalid include `{text}`: use `name` or `name@VERSION` as a string literal", code="invalid_include"
    )


def parse_include(text: str) -> IncludeRef:
    name, version = text, None
    if "@" in text:
        name, _, number = text.partition("@")
        if not _VERSION.match(number) or int(number) == 0 or int(number) > 0xFFFFFFFF:
            raise _invalid_include(text)
        version = int(number)
    if not _NAME.match(name):
        raise _invalid_include(text)
    return IncludeRef(name, version)


def find_includes(source: str) -> List[IncludeRef]:
    """The literal includes of a template, in order of first use, without duplicates."""
    found: List[IncludeRef] = []
    for match in _INCLUDE_STATEMENT.finditer(source):
        argument = match.group(1)
        literal = _STRING_LITERAL.match(argument)
        inner = literal and (literal.group(1) if literal.group(1) is not None else literal.group(2))
        if inner is None or literal is None:
            raise _invalid_include(argument)
        reference = parse_include(inner)
        if reference not in found:
            found.append(reference)
    return found


def templates_of(content: Mapping[str, Any]) -> List[Tuple[str, str, str]]:
    """`(role, template name, source)` per part: one per chat message, or one text template."""
    if content.get("type") == "chat":
        return [(m["role"], f"messages[{i}]", m["content"]) for i, m in enumerate(content.get("messages") or [])]
    return [("", "template", content.get("template") or "")]


_JSON_TYPES = {str: "string", bool: "boolean", int: "number", float: "number", dict: "object", list: "array",
               type(None): "null"}


def _json_type(value: Any) -> str:
    exact = _JSON_TYPES.get(type(value))
    if exact is not None:
        return exact
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def bind_variables(specs: Mapping[str, Mapping[str, Any]], given: Mapping[str, Any]) -> Dict[str, Any]:
    """Defaults applied, then checked like the server: undeclared names, a wrong type, missing ones."""
    undeclared = sorted(name for name in given if name not in specs)
    if undeclared:
        raise RenderError(
            f"undeclared variables given: {', '.join(undeclared)} (declared: {', '.join(sorted(specs))})",
            code="undeclared_variables",
        )
    bound: Dict[str, Any] = {}
    missing: List[str] = []
    for name in sorted(specs):
        spec = specs[name] or {}
        if name in given:
            value = given[name]
        elif spec.get("default") is not None:
            value = spec["default"]
        else:
            if spec.get("required", True) is not False:
                missing.append(name)
            continue
        expected = spec.get("type") or "string"
        actual = _json_type(value)
        if actual != expected and expected != "any":  # "any": inferred variables of an inline fallback
            raise RenderError(f"variable `{name}` must be {expected}, got {actual}", code="variable_type")
        bound[name] = value
    if missing:
        raise RenderError(f"missing required variables: {', '.join(missing)}", code="missing_variables")
    return bound


BUILTIN_GLOBALS = frozenset(["range", "dict", "namespace", "debug", "loop", "self"])


def check_template(content: Mapping[str, Any], infer: bool = False) -> List[str]:
    """The server's publish-time checks of each template: literal includes, syntax, and (unless
    `infer`) only declared variables. Returns the variables the templates read, sorted."""
    declared = content.get("variables") or {}
    used: List[str] = []
    for _, name, source in templates_of(content):
        find_includes(source)
        env = _environment()
        try:
            env.add_template(name, source)
        except minijinja.TemplateError as error:
            raise _syntax_error(name, error) from None
        names = sorted(n for n in env.undeclared_variables_in_template(name, False) if n not in BUILTIN_GLOBALS)
        undeclared = [n for n in names if n not in declared]
        if undeclared and not infer:
            raise RenderError(f"template `{name}` uses undeclared variables: {', '.join(undeclared)}",
                              code="template_undeclared_variable")
        used.extend(n for n in names if n not in used)
    return sorted(used)


_SCALARS = (str, int, float, bool, type(None))


def _sorted_value(value: Any) -> Any:
    """Mappings with their keys in sorted order at every depth, as the server's JSON objects iterate."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {key: _sorted_value(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted_value(item) for item in value]
    return value


def _environment() -> minijinja.Environment:
    env = minijinja.Environment(debug=False, pycompat=False, fuel=RENDER_FUEL,
                                auto_escape_callback=lambda _name: False)
    env.undefined_behavior = "semi_strict"  # type: ignore[assignment]  # the stub lists only three
    for name in PYTHON_ONLY_FILTERS:
        env.remove_filter(name)
    for name in list(env.globals):
        if name not in SERVER_GLOBALS:
            env.remove_global(name)
    return env


def _syntax_error(name: str, error: minijinja.TemplateError) -> RenderError:
    line = f" (line {error.line})" if getattr(error, "line", None) else ""
    return RenderError(f"template `{name}` does not parse: {_detail(error)}{line}", code="template_syntax")


def _detail(error: minijinja.TemplateError) -> str:
    detail = getattr(error, "detail", None)
    if detail:
        return str(detail)
    return _KIND_TEXT.get(error.kind, error.kind)


# minijinja's ErrorKind Display text, used by the server when an error has no detail.
_KIND_TEXT = {
    "NonPrimitive": "not a primitive",
    "NonKey": "not a key type",
    "InvalidOperation": "invalid operation",
    "SyntaxError": "syntax error",
    "TemplateNotFound": "template not found",
    "TooManyArguments": "too many arguments",
    "MissingArgument": "missing argument",
    "UnknownFilter": "unknown filter",
    "UnknownTest": "unknown test",
    "UnknownFunction": "unknown function",
    "UnknownMethod": "unknown method",
    "BadEscape": "bad string escape",
    "UndefinedError": "undefined value",
    "BadSerialization": "could not serialize to value",
    "CannotDeserialize": "could not deserialize",
    "BadInclude": "could not render include",
    "EvalBlock": "could not render block",
    "CannotUnpack": "cannot unpack",
    "WriteFailure": "failed to write output",
    "OutOfFuel": "engine ran out of fuel",
    "InvalidDelimiter": "invalid custom delimiters",
    "UnknownBlock": "unknown block",
}


def _render_error(part: str, error: minijinja.TemplateError) -> RenderError:
    if error.kind == "OutOfFuel":
        return RenderError(f"rendering failed: {part}: template exceeded its execution budget", code="render_failed")
    message = _detail(error)
    if error.name and getattr(error, "line", None):
        message = f"{message} ({error.name} line {error.line})"
    if error.kind == "TemplateNotFound":
        message = f"included prompt not resolved: {message}"
    return RenderError(f"rendering failed: {part}: {message}", code="render_failed")


class CompiledPrompt:
    """A version's templates parsed once, with the sources of its includes (`name` / `name@N` →
    source, every level), ready to render many times."""

    def __init__(self, content: Mapping[str, Any], includes: Mapping[str, str]) -> None:
        self._env = _environment()
        for name in sorted(includes):
            try:
                self._env.add_template(name, includes[name])
            except minijinja.TemplateError as error:
                raise _syntax_error(name, error) from None
        self._parts: List[Tuple[str, str]] = []
        for role, name, source in templates_of(content):
            try:
                self._env.add_template(name, source)
            except minijinja.TemplateError as error:
                raise _syntax_error(name, error) from None
            self._parts.append((role, name))
        self._is_chat = content.get("type") == "chat"
        self._variables: Dict[str, Mapping[str, Any]] = dict(content.get("variables") or {})
        # The declarations once, sorted (the order the server checks them in), defaults pre-sorted.
        self._specs = [
            (name, (spec or {}).get("type") or "string", _sorted_value((spec or {}).get("default")),
             (spec or {}).get("required", True) is not False)
            for name, spec in sorted(self._variables.items())
        ]

    def _bind(self, given: Mapping[str, Any]) -> Dict[str, Any]:
        """`bind_variables` without its allocations on the happy path (same checks, same errors)."""
        variables = self._variables
        for name in given:
            if name not in variables:
                return bind_variables(variables, given)  # raises the server's error
        bound: Dict[str, Any] = {}
        for name, expected, default, required in self._specs:
            if name in given:
                value = given[name]
                if _JSON_TYPES.get(type(value)) != expected and _json_type(value) != expected and expected != "any":
                    return bind_variables(variables, given)
                bound[name] = _sorted_value(value)
            elif default is not None:
                bound[name] = default
            elif required:
                return bind_variables(variables, given)
        return bound

    def render(self, given: Mapping[str, Any]) -> Rendered:
        bound = self._bind(given)
        total = 0
        rendered: List[Tuple[str, str]] = []
        for role, name in self._parts:
            try:
                text = self._env.render_template(name, **bound)
            except minijinja.TemplateError as error:
                raise _render_error(name, error) from None
            total += len(text.encode("utf-8"))
            if total > MAX_OUTPUT_BYTES:
                raise RenderError(f"rendering failed: rendered output exceeds {MAX_OUTPUT_BYTES} bytes",
                                  code="render_failed")
            rendered.append((role, text))
        if self._is_chat:
            return [{"role": role, "content": text} for role, text in rendered]
        return "".join(text for _, text in rendered)
