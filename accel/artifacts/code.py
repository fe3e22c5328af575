"""The code digest of a builder: what of accel's source can change the bytes it writes.

A cached artifact is keyed on the code that builds it (with its recipe, inputs and library
versions), so that a change to a builder rebuilds exactly the artifacts downstream of it. The
digest of a build function covers its own source and, transitively, the source of every
function and class it can reach by name: globals its code (and the code of the functions
nested in it) names, the functions and constants held in its closure, its default arguments,
and the methods of the classes it names. Only code of the packages named in ``packages``
(accel's, and the builder's own top-level package) is followed; libraries are covered by their
versions in the key. Instances (a recipe, a build context) are data; their classes are
followed where the code names them, annotates a parameter with them, or holds one in its
closure or defaults (a recipe's methods run in the build).

Sources are normalised (parsed, docstrings dropped, unparsed), so comments, docstrings and
formatting do not change a digest; everything else does (a renamed variable too).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import textwrap
import types
from collections.abc import Callable, Iterable
from typing import Any

_SIMPLE = (str, int, float, bool, bytes, type(None))
# How an artifact is found and stored, not what it holds: never part of a digest.
MACHINERY_MODULES = frozenset(
    f"accel.artifacts.{name}"
    for name in ("cache", "code", "entries", "locking", "provenance", "store")
)
# A class that sets this attribute to False is machinery too (the build context).
OPT_OUT = "__accel_code_digest__"


def normalized_source(obj: Any) -> str:
    """``obj``'s source, parsed and unparsed without docstrings: comments and layout vanish,
    and the text (unlike an AST dump) does not depend on the Python version's node fields."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


class _Digest:
    """One traversal: the normalised sources and constants reachable from a root."""

    def __init__(self, packages: Iterable[str]) -> None:
        self.packages = frozenset(packages)
        self.parts: dict[str, str] = {}

    def ours(self, obj: Any) -> bool:
        module = getattr(obj, "__module__", None) or ""
        if module in MACHINERY_MODULES or not getattr(obj, OPT_OUT, True):
            return False
        return module.partition(".")[0] in self.packages

    def visit(self, obj: Any) -> None:
        if isinstance(obj, functools.partial):
            self.visit(obj.func)
            self.values(obj.args)
            self.values(obj.keywords.values())
        elif isinstance(obj, types.MethodType):
            self.visit(obj.__func__)
        elif isinstance(obj, types.FunctionType) and self.ours(obj):
            self.function(obj)
        elif isinstance(obj, type) and self.ours(obj):
            self.klass(obj)
        elif isinstance(obj, types.ModuleType) and obj.__name__.partition(".")[0] in self.packages:
            self.add(f"module {obj.__name__}", lambda: normalized_source(obj))

    def add(self, name: str, source: Callable[[], str]) -> bool:
        if name in self.parts:
            return False
        self.parts[name] = ""  # mark first: recursion through cycles stops here
        self.parts[name] = source()
        return True

    def function(self, fn: types.FunctionType) -> None:
        if fn.__code__.co_filename.startswith("<"):
            return  # generated (a dataclass's __init__): its class's source stands for it
        if not self.add(f"function {fn.__module__}.{fn.__qualname__}", lambda: _source(fn)):
            return
        for name in sorted(_names(fn.__code__)):
            if name in fn.__globals__:
                self.value(f"{fn.__module__}.{name}", fn.__globals__[name])
        for cell in fn.__closure__ or ():
            try:
                self.values([cell.cell_contents])
            except ValueError:  # an empty cell (a name bound later)
                continue
        self.values(fn.__defaults__ or ())
        self.values((fn.__kwdefaults__ or {}).values())
        for name in sorted(_annotated(fn)):
            if name in fn.__globals__:
                self.visit(fn.__globals__[name])

    def klass(self, cls: type) -> None:
        if not self.add(f"class {cls.__module__}.{cls.__qualname__}", lambda: _source(cls)):
            return
        for member in vars(cls).values():
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property):
                self.values([member.fget, member.fset])
            else:
                self.visit(member)
        for base in cls.__mro__[1:]:
            self.visit(base)

    def value(self, name: str, value: Any) -> None:
        """A global named by the code: code is followed, a constant is recorded."""
        if _constant(value):
            self.parts.setdefault(f"constant {name}", repr(value))
        else:
            self.visit(value)

    def values(self, values: Iterable[Any]) -> None:
        """Values handed to the code (closure, defaults): code is followed, and so is the
        class of an instance of ours (a recipe's methods run in the build)."""
        for value in values:
            if _constant(value):
                continue  # data handed in at run time: the recipe in the key covers it
            if isinstance(value, type | types.FunctionType | functools.partial):
                self.visit(value)
            elif isinstance(value, tuple | list | frozenset | set):
                self.values(value)
            elif self.ours(type(value)):
                self.visit(type(value))
            else:
                self.visit(value)


def _constant(value: Any) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(_constant(v) for v in value)
    return isinstance(value, _SIMPLE)


def _source(obj: Any) -> str:
    try:
        return normalized_source(obj)
    except (OSError, TypeError, SyntaxError):
        # No source file (a frozen module's function): its bytecode stands in.
        code = getattr(obj, "__code__", None)
        return code.co_code.hex() if code is not None else repr(obj)


def _annotated(fn: types.FunctionType) -> set[str]:
    """The names in ``fn``'s annotations (strings under postponed evaluation): the classes of
    its parameters, whose methods it may call."""
    names: set[str] = set()
    for note in fn.__annotations__.values():
        text = note if isinstance(note, str) else getattr(note, "__name__", "")
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            continue
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return names


def _names(code: types.CodeType) -> set[str]:
    """Names the code (and the code nested in it) may look up as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def code_digest(build: Callable[..., Any], packages: Iterable[str] = ("accel",)) -> str:
    """A sha256 of the normalised source reachable from ``build`` (see the module docstring).

    ``build``'s own top-level package is always followed, so a third-party technique's
    builder is covered as well as accel's code it calls.
    """
    root = getattr(build, "__module__", None) or ""
    digest = _Digest([*packages, root.partition(".")[0]] if root else packages)
    digest.visit(build)
    blob = "\n".join(f"{name}\n{source}" for name, source in sorted(digest.parts.items()))
    return hashlib.sha256(blob.encode()).hexdigest()
