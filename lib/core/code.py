"""What code a stored run executed, so that an edit recomputes exactly the runs that ran the edited code.

A **unit** is one top-level statement of a ``lib`` module that defines code: a function, or a class with all its
methods (``"lib.criteria.filters:magnitude"``). While a run computes, :func:`recording` notes every ``lib`` code
object that starts (``sys.settrace``'s call events, the frame's code only: no line tracing) and maps it to its unit;
a lambda or a nested function belongs to the function that defines it, a method to its class. A class is one unit
because its methods can run where the tracer does not see them (an ``autograd.Function``'s backward on a GPU's
autograd thread, a dataset's ``__getitem__`` in a ``DataLoader`` worker) while its constructor runs here.

A unit's hash (:func:`unit_hash`) covers its normalised source (the syntax tree without docstrings, comments or
formatting) and every **module-level value it reads**: the assignments of the module-level names it uses, followed
through ``from lib.x import NAME`` and ``module.NAME`` into other ``lib`` modules, the values those read in turn,
and the classes it names: their bases, decorators and fields (a dataclass's fields are its generated constructor's
code), not their methods, which are the class's own unit when they run. Functions it names are not values: one
that runs is a unit of its own, one that does not cannot change the result; but a function a module-level value
calls (``FLEXREL_METHODS = with_role(...)``) ran at import, unseen, and counts with that value.

So editing the body of ``magnitude_folded`` recomputes the runs that called it and no other; editing a label, a
stage's list of runs, a frame builder or a plotting helper recomputes nothing, since no run executes them. Modules
in :data:`NOT_CODE` are never units: the store itself, the machine's description and the loader of
``params.yaml``, whose values enter a run's key as values.
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import contextvars
import functools
import hashlib
import sys
import types
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

LIB = Path(__file__).resolve().parents[1]

#: Modules whose code is never a unit: the store, the machine's description (how a result is kept and what it
#: cost, not what it is) and the loader of ``params.yaml`` (a run's parameters enter its key as values).
NOT_CODE = ("lib.store.runs", "lib.core.code", "lib.store.machine", "lib.params.profiles")


def source(module: str, root: Path = LIB) -> Path:
    """The source file of ``lib`` module ``module`` under ``root`` (a package: its ``__init__.py``)."""
    path = root.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def module_of(path: Path, root: Path = LIB) -> str:
    """The ``lib`` module a source file under ``root`` is (a package's ``__init__.py``: the package)."""
    return ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")


def _docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def normalised(stmt: ast.stmt) -> str:
    """A statement of a freshly parsed module as text without its docstrings and other bare string statements
    (removed from ``stmt`` in place): comments and formatting are not in a syntax tree, so none of the three
    changes it."""
    for node in ast.walk(stmt):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [s for s in body if not _docstring(s)] or [ast.Pass()]
    return ast.dump(stmt, annotate_fields=False, include_attributes=False)


def resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module an ``from … import`` names, relative imports resolved against ``package`` (the importing
    module's package: in ``lib.protocols``, ``from ..core import data`` names ``lib.core``)."""
    base = node.module or ""
    if node.level:
        if not package:
            raise ValueError(f"a relative import (from {'.' * node.level}{base}) outside the library")
        above = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*above, *([base] if base else [])])
    return base


@dataclass(frozen=True)
class Module:
    """One parsed ``lib`` module: its units, the module-level statements that bind values, and its imports."""

    name: str
    #: (first line, last line, unit name) of every top-level function and class, by first line (decorators included)
    spans: tuple[tuple[int, int, str], ...]
    #: unit name -> its normalised source
    units: dict[str, str]
    #: module-level name -> the normalised statements that give it a value (assignments; a class: its bases,
    #: decorators and fields)
    values: dict[str, tuple[str, ...]]
    #: module-level name -> the names those statements read
    reads: dict[str, frozenset[str]]
    #: unit name -> the names it reads (``module.NAME`` as ``"module.NAME"``)
    unit_reads: dict[str, frozenset[str]]
    #: local name -> ``(module, attribute)`` it was imported as; attribute ``None`` for a module
    imports: dict[str, tuple[str, str | None]]


def _read_names(node: ast.AST) -> frozenset[str]:
    """Names a statement reads: plain names, and ``alias.NAME`` spelled ``"alias.NAME"`` (a module's value)."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            out.add(f"{n.value.id}.{n.attr}")
    return frozenset(out)


def _bound(stmt: ast.stmt) -> list[str]:
    """Module-level names a statement gives a value to or changes (``X = …``, ``X[k] = …``, ``X.update(…)``)."""
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        targets = [stmt.target]
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        targets = [stmt.value.func]
    names = []
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                names.append(n.id)
                break
    return names


def _top_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """A module's top-level statements, those inside top-level ``if``/``try``/``with`` blocks included."""
    todo = list(tree.body)
    while todo:
        stmt = todo.pop(0)
        if isinstance(stmt, ast.If | ast.Try | ast.With):
            todo = [*stmt.body, *getattr(stmt, "orelse", []), *getattr(stmt, "finalbody", []), *todo]
            for handler in getattr(stmt, "handlers", []):
                todo = [*handler.body, *todo]
        else:
            yield stmt


@cache
def _parse(path: Path, root: Path, mtime_ns: int, size: int) -> Module:
    tree = ast.parse(path.read_bytes())
    name = module_of(path, root)
    package = ".".join(path.relative_to(root.parent).parts[:-1])  # a package's __init__ and its modules share one
    spans, units, unit_reads, values, reads, imports = [], {}, {}, {}, {}, {}
    for stmt in _top_level(tree):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
            spans.append((first, stmt.end_lineno or stmt.lineno, stmt.name))
            units[stmt.name] = normalised(stmt)
            unit_reads[stmt.name] = _read_names(stmt)
            if isinstance(stmt, ast.ClassDef):  # as a value: its bases, decorators and fields, not its methods
                fields = [s for s in stmt.body if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
                skeleton = ast.ClassDef(
                    name=stmt.name,
                    bases=stmt.bases,
                    keywords=stmt.keywords,
                    body=fields,
                    decorator_list=stmt.decorator_list,
                )
                values[stmt.name] = (ast.dump(skeleton, annotate_fields=False, include_attributes=False),)
                reads[stmt.name] = _read_names(skeleton)
        elif isinstance(stmt, ast.ImportFrom):
            base = resolve(stmt, package)
            for alias in stmt.names:
                sub = f"{base}.{alias.name}"
                is_module = source(sub, root).exists()
                imports[alias.asname or alias.name] = (sub, None) if is_module else (base, alias.name)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]  # `import a.b` binds a; `import a.b as c` binds c
                imports[bound] = (alias.name if alias.asname else bound, None)
        else:
            text = normalised(stmt)
            for bound in _bound(stmt):
                values[bound] = (*values.get(bound, ()), text)
                reads[bound] = reads.get(bound, frozenset()) | _read_names(stmt)
    return Module(name, tuple(sorted(spans)), units, values, reads, unit_reads, imports)


def parsed(module: str, root: Path = LIB) -> Module | None:
    """``module`` parsed (once per version of its file: size and modification time), or ``None`` if it is gone."""
    path = source(module, root)
    if module.split(".")[0] != root.name or not path.exists():
        return None
    stat = path.stat()
    return _parse(path, root, stat.st_mtime_ns, stat.st_size)


def _stat(module: str, root: Path) -> tuple[int, int] | None:
    path = source(module, root)
    return (s.st_mtime_ns, s.st_size) if (s := path.stat() if path.exists() else None) else None


#: ``(unit, root) -> (the modules its hash read, as they were then, its hash)``: a lookup checks a run's every unit
_HASHES: dict[tuple[str, Path], tuple[tuple[tuple[str, tuple[int, int] | None], ...], str | None]] = {}


def unit_hash(unit: str, root: Path = LIB) -> str | None:
    """The hash of a unit (``"module:name"``) as the code under ``root`` has it now: its normalised source and the
    module-level values it reads (see the module's documentation); ``None`` if the unit is gone. Kept until a
    module it read changes."""
    known = _HASHES.get((unit, root))
    if known is not None and all(_stat(m, root) == s for m, s in known[0]):
        return known[1]
    visited = {unit.split(":")[0]}
    digest = _unit_hash(unit, root, visited)
    _HASHES[(unit, root)] = (tuple((m, _stat(m, root)) for m in sorted(visited)), digest)
    return digest


def _unit_hash(unit: str, root: Path, visited: set[str]) -> str | None:
    module, name = unit.split(":")
    m = parsed(module, root)
    if m is None or name not in m.units:
        return None
    values, seen = {}, set()
    # (module, name read, whether a module-level value reads it): a function a value reads ran when its module was
    # imported (``METHODS = with_role(...)``), where no recording sees it, so it counts as a value there
    todo = [(module, r, False) for r in m.unit_reads[name]]
    while todo:
        mod, read, at_import = todo.pop()
        visited.add(mod)
        if (mod, read, at_import) in seen or (p := parsed(mod, root)) is None:
            continue
        seen.add((mod, read, at_import))
        head, _, attr = read.partition(".")
        if head in p.imports:
            target, value = p.imports[head]
            if value is not None:
                todo.append((target, value if not attr else f"{value}.{attr}", at_import))
            elif attr:
                todo.append((target, attr, at_import))
        elif not attr and read in p.values:
            values[f"{mod}.{read}"] = p.values[read]
            todo += [(mod, r, True) for r in p.reads[read]]
        elif not attr and at_import and read in p.units:
            values[f"{mod}.{read}"] = (p.units[read],)
            todo += [(mod, r, True) for r in p.unit_reads[read]]
    text = "\n".join([m.units[name], *(f"{k}\n" + "\n".join(v) for k, v in sorted(values.items()))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def every_unit(root: Path = LIB) -> list[str]:
    """Every unit of the library under ``root`` (modules in :data:`NOT_CODE` have none), in file order."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_of(path, root)
        if module not in NOT_CODE and (m := parsed(module, root)) is not None:
            found += [f"{module}:{name}" for name in m.units]
    return found


def changed(code: dict[str, str], root: Path = LIB) -> list[str]:
    """The units of a run's recorded ``code`` whose hash differs today (or that are gone), sorted."""
    return sorted(u for u, h in code.items() if unit_hash(u, root) != h)


def _unit_of(code: types.CodeType, root: Path) -> str | None:
    """The unit a code object belongs to, or ``None`` (not ``lib``'s, or top-level module code)."""
    path = Path(code.co_filename)
    if not path.is_relative_to(root):
        return None
    module = module_of(path, root)
    m = parsed(module, root)
    if m is None or module in NOT_CODE:
        return None
    i = bisect.bisect_right(m.spans, (code.co_firstlineno, sys.maxsize, "")) - 1
    if i < 0 or code.co_firstlineno > m.spans[i][1]:
        return None
    return f"{module}:{m.spans[i][2]}"


_RECORDING: contextvars.ContextVar[list[Recording] | None] = contextvars.ContextVar("recording", default=None)


class Recording:
    """The units a computation executed (:attr:`code`, filled when it ends), and those of the stored runs it read
    (:meth:`add`)."""

    def __init__(self) -> None:
        self.seen: set[types.CodeType] = set()
        self.code: dict[str, str] = {}

    def add(self, code: dict[str, str]) -> None:
        """Units a stored run this computation read had recorded: what made that input is part of this result."""
        self.code |= code


@contextlib.contextmanager
def recording(root: Path = LIB) -> Iterator[Recording]:
    """Record, while the block runs, every ``lib`` unit it executes; on exit :attr:`Recording.code` maps each to its
    :func:`unit_hash`. Recordings nest: an inner one's units are added to the outer ones (a run's inputs made it).
    A tracer already set (a debugger, coverage) keeps running: this one calls it."""
    rec = Recording()
    previous = sys.gettrace()
    seen = rec.seen

    def tracer(frame: types.FrameType, event: str, arg: object):  # noqa: ANN202 - sys.settrace's protocol
        seen.add(frame.f_code)
        return previous(frame, event, arg) if previous is not None else None

    outer = _RECORDING.get()
    token = _RECORDING.set([*(outer or []), rec])
    sys.settrace(tracer)
    try:
        yield rec
    finally:
        sys.settrace(previous)
        _RECORDING.reset(token)
        units = {u for c in seen if (u := _unit_of(c, root)) is not None}
        rec.code |= {u: h for u in sorted(units) if (h := unit_hash(u, root)) is not None}
        for active in outer or []:
            active.add(rec.code)


def read_back(code: dict[str, str]) -> None:
    """A stored run was read back: its recorded units join every recording now active (its reader's)."""
    for active in _RECORDING.get() or []:
        active.add(code)


def remembered(memo: dict, key: Hashable, compute: Callable[[], T]) -> T:
    """``memo[key]``, computed by ``compute()`` on first use: an in-process memo that a recording sees through. A
    hit executes none of the code that made the value, so every call adds that code (recorded when it was
    computed) to the recordings active now; without it a run reading a memoised value would not record, and not
    recompute after, an edit of the code that made it."""
    if key not in memo:
        with recording() as made:
            value = compute()
        memo[key] = (value, made.code)
    value, made_by = memo[key]
    read_back(made_by)
    return value


def memoised(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``functools.lru_cache(maxsize)`` through :func:`remembered`, for a function whose value runs read."""

    def wrap(function: Callable[..., T]) -> Callable[..., T]:
        memo: dict[tuple, Any] = {}

        @functools.wraps(function)
        def call(*args: Hashable) -> T:
            if args in memo:
                memo[args] = memo.pop(args)  # most recently used last
            value = remembered(memo, args, lambda: function(*args))
            while len(memo) > maxsize:
                del memo[next(iter(memo))]
            return value

        call.cache_clear = memo.clear  # type: ignore[attr-defined] - as functools.lru_cache's
        return call

    return wrap
