"""The run store: every finished run is kept under ``cache/runs/<kind>/<key>.<code>`` and read back instead of
rerun.

A stored run must never outlive what made it, so what names it covers all of it:

- ``params`` — the run's parameter section, every field except those that only choose *which* runs exist
  (the grid: seeds, methods, levels; each protocol lists them, commented), plus the run's own coordinates
  (seed, method, level, the device it ran on, ...);
- ``versions`` — torch, torchvision, zennit, torch-pruning and numpy;
- ``code`` — the code the run **executed** (:mod:`lib.core.code`): every unit of ``lib`` (a top-level function,
  or a class) that ran while it computed, and those the stored runs it read had recorded, each with a hash of its
  normalised source and of the module-level values it reads. The first two make the entry's key (the file name's
  first part); the code is checked on lookup: an entry whose units all hash as they do today is current, and a run
  none of whose entries is current computes again (a new entry beside the old one, which ``prune --stale``
  removes). Change a function's body and exactly the runs that called it recompute; fix a docstring or a comment,
  or edit a label, a list of runs or a plotting helper, and none does.

An entry stores its key's parts and its code beside the result and a checksum of the result, so
``python -m lib.scale.store`` can list, explain, verify and prune the store, and say which runs the working tree's
uncommitted edits will recompute. A truncated or corrupt entry is reported, removed and recomputed — never loaded.
A resumed stage reuses every finished run; a changed parameter changes the key of exactly the runs that read it.

The protocols hand :func:`cached` a :class:`View` of their section that raises on any field outside the
key, so a run cannot read a setting its key leaves out.

Several processes may share a store (a sweep's jobs, :mod:`lib.scale.sweep`): entries are written atomically, and
in a ``torchrun`` launch only rank 0 writes while the others wait for it. :func:`only_stored` asks whether
a run is stored without computing it.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ..core import code as units
from ..core.code import LIB
from ..core.train import world
from ..params.paths import RUNS
from .machine import cpu_name, versions


class View:
    """A parameter section that only lets the fields in its key be read: a value (equal views are equal and hash
    alike), so a :class:`Run` holding one is a value too.

    >>> from lib.params.data import DataParams
    >>> v = View(DataParams(datasets=["MNIST"], grid=8), exclude=("grid",))
    >>> v.datasets
    ['MNIST']
    >>> v.grid
    Traceback (most recent call last):
    ...
    AttributeError: data.grid is not in this run's key (excluded: ('grid',)); a run may only read what its key covers
    >>> v.narrow(["datasets"]).params()
    {}
    """

    def __init__(self, section: Any, exclude: Iterable[str] = ()) -> None:
        fields = section.model_dump()
        exclude = tuple(exclude)
        unknown = [k for k in exclude if k not in fields]
        if unknown:
            raise ValueError(f"exclude names {unknown}, which are not fields of {type(section).__name__}")
        self._name = section.SECTION
        self._exclude = exclude
        self._fields = {k: v for k, v in fields.items() if k not in exclude}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._fields:
            return self._fields[name]
        raise AttributeError(
            f"{self._name}.{name} is not in this run's key (excluded: {self._exclude}); "
            "a run may only read what its key covers"
        )

    def _identity(self) -> tuple[str, str]:
        return self._name, json.dumps(self._fields, sort_keys=True, default=str)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, View) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return f"View({self._name}: {self._fields})"

    @property
    def section(self) -> str:
        return self._name

    def params(self) -> dict[str, Any]:
        """The fields in the key."""
        return dict(self._fields)

    def narrow(self, exclude: Iterable[str]) -> View:
        """This view without the fields ``exclude`` names (those already excluded are ignored): what a run that
        reads less of the section sees, e.g. the base network a pruning run starts from."""
        exclude = tuple(exclude)
        unknown = [k for k in exclude if k not in self._fields and k not in self._exclude]
        if unknown:
            raise ValueError(f"exclude names {unknown}, which are not fields of section {self._name}")
        out = object.__new__(View)
        out._name = self._name
        out._exclude = tuple(dict.fromkeys(self._exclude + exclude))
        out._fields = {k: v for k, v in self._fields.items() if k not in exclude}
        return out


@dataclass(frozen=True)
class Run:
    """A stored run as a value: what kind of run it is, the :class:`View` of its section it reads, its seed, and
    (in a protocol's subclass) the coordinates of its kind. Equal runs are the same stored entry.

    :meth:`key` gives the coordinates the store files the run under; a subclass canonicalises there (FlexRel at
    δ = 0 *is* a magnitude run on a plain chain) while its fields keep what was asked, so the rows a run returns
    say what the caller asked for. :meth:`result` reads the run back or computes it; ``phase`` orders a stage's
    runs (a run may read runs of an earlier phase: a pruning run its base network and scores)."""

    view: View
    seed: int
    kind: ClassVar[str] = "run"
    phase: ClassVar[int] = 0

    def key(self) -> dict[str, Any]:
        """The run's coordinates as the store keys them (with its kind and view)."""
        return {"seed": self.seed}

    def identity(self) -> tuple[str, str, str]:
        """What makes two runs the same stored entry (up to code and library versions): kind, view, key."""
        return _identity(self.kind, self.view.params(), self.key())

    def inputs(self) -> list[Run]:
        """The stored runs this one reads while it computes (none by default)."""
        return []

    def result(self) -> Any:
        """The run's result, read back from the store or computed (and stored)."""
        raise NotImplementedError(f"{type(self).__name__} has no result()")


def _identity(kind: str, params: dict, run: dict) -> tuple[str, str, str]:
    return kind, json.dumps(params, sort_keys=True, default=str), json.dumps(run, sort_keys=True, default=str)


def identity_of(header: dict) -> tuple[str, str, str]:
    """A stored entry's :meth:`Run.identity`, read from its header."""
    return _identity(header["kind"], header["params"], header["run"])


def config_hash(obj: Any) -> str:
    """A short stable hash of a JSON-serialisable configuration (a parameter section allowed).

    >>> config_hash({"x": 1, "y": [1, 2]}) == config_hash({"y": [1, 2], "x": 1})
    True
    """
    dump = lambda o: o.model_dump() if hasattr(o, "model_dump") else str(o)  # noqa: E731 - sections, also nested
    text = json.dumps(dump(obj) if hasattr(obj, "model_dump") else obj, sort_keys=True, default=dump)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _read_source(path: Path, root: Path = LIB) -> frozenset[str]:
    """The ``lib`` modules a source file imports at run time, parsed once per process and version of the file (its
    size and modification time)."""
    stat = path.stat()
    return _parse(path, root, stat.st_mtime_ns, stat.st_size)


def _type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (imports for annotations only, never executed)."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (getattr(test, "id", None) or getattr(test, "attr", None)) == "TYPE_CHECKING"


def _imports(tree: ast.AST, root: Path, package: str = "") -> set[str]:
    """The ``lib`` modules ``tree`` imports outside ``if TYPE_CHECKING:`` blocks (``from lib.core import data``
    names module ``lib.core.data``; ``from lib.core.data import SPECS`` names ``lib.core.data``). Relative imports
    (the library's own, so that it installs under another name) are resolved against ``package``, the importing
    module's package: in ``lib.protocols``, ``from ..core import data`` names ``lib.core.data``."""
    found, todo = set(), [tree]
    while todo:
        node = todo.pop()
        if _type_checking(node):
            todo += node.orelse
            continue
        if isinstance(node, ast.ImportFrom):
            base = units.resolve(node, package)
            if base.split(".")[0] == "lib":
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if units.source(sub, root).exists() else base)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lib"}
        todo += ast.iter_child_nodes(node)
    return {m for m in found if m != "lib"}


@cache
def _parse(path: Path, root: Path, mtime_ns: int, size: int) -> frozenset[str]:
    parts = path.relative_to(root.parent).with_suffix("").parts
    package = ".".join(parts[:-1])  # a package's __init__ and its other modules share a package
    return frozenset(_imports(ast.parse(path.read_bytes()), root, package))


def lib_imports(source: str, root: Path = LIB) -> set[str]:
    """The ``lib`` modules a piece of source code (a notebook cell, a script) imports at run time."""
    return _imports(ast.parse(source), root)


def closure(module: str, root: Path = LIB) -> list[str]:
    """Every ``lib`` module that ``module`` imports at run time, directly or not, itself included (sorted): what a
    process running it loads, as ``dvc.yaml``'s dependencies list it.

    >>> closure("lib.core.stats")
    ['lib.core.stats']
    """
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += [i for i in _read_source(units.source(m, root), root) if units.source(i, root).exists()]
    return sorted(seen)


def _key(header: dict) -> str:
    """An entry's key: what run it is (kind, section, parameters, coordinates) and the library versions."""
    return config_hash({k: header[k] for k in ("kind", "section", "params", "run", "versions")})


def _name(header: dict) -> str:
    """An entry's file name without suffix: its key, then a hash of the code it recorded."""
    return f"{_key(header)}.{config_hash(header['code'])}"


def _checksum(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class CorruptEntry(Exception):
    """A stored run that cannot be trusted (unreadable, truncated, or its checksum or key does not match)."""


def _read(path: Path) -> tuple[dict, Any]:
    """``(header, result)`` of an entry, or :class:`CorruptEntry`. JSON entries hold the result; ``.pt``
    entries hold a model state and a JSON record."""
    try:
        if path.suffix == ".json":
            stored = json.loads(path.read_text())
            header, body = stored["header"], stored["result"]
            payload = json.dumps(body, sort_keys=True).encode()
        else:
            stored = torch.load(path, weights_only=True)
            header, body = json.loads(stored["header"]), (stored["state"], json.loads(stored["record"]))
            payload = _state_bytes(stored["state"]) + stored["record"].encode()
    except Exception as err:  # noqa: BLE001 - any failure to read means the entry cannot be trusted
        raise CorruptEntry(f"unreadable ({type(err).__name__}: {err})") from None
    if _checksum(payload) != header.get("checksum"):
        raise CorruptEntry("checksum mismatch")
    if path.stem != _name(header):
        raise CorruptEntry("stored key does not match its file name")
    return header, body


def _state_bytes(state: dict[str, torch.Tensor]) -> bytes:
    return b"".join(
        name.encode() + t.detach().cpu().contiguous().numpy().tobytes() for name, t in sorted(state.items())
    )


def _write(path: Path, write: Callable[[Path], None]) -> None:
    """Write an entry atomically (a temporary file, then a rename). In a distributed launch only rank 0
    writes, and every rank waits until it has."""
    rank, size = world()
    if rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        write(tmp)
        tmp.replace(path)
    if size > 1:
        torch.distributed.barrier()


class NotStored(LookupError):
    """A run that is not in the store, asked for inside :func:`only_stored`."""


_ONLY_STORED = contextvars.ContextVar("only_stored", default=False)
_READS: contextvars.ContextVar[list[Run] | None] = contextvars.ContextVar("reads", default=None)


@contextlib.contextmanager
def only_stored() -> Iterator[None]:
    """Within this context a run that is not stored raises :class:`NotStored` instead of being computed:
    calling a stage's runs inside it tells which are left to do.

    >>> import tempfile
    >>> from lib.params.data import DataParams
    >>> run = Run(View(DataParams(datasets=["MNIST"], grid=8)), 0)
    >>> with tempfile.TemporaryDirectory() as root, only_stored():
    ...     cached(run, lambda: 1, root=Path(root))
    Traceback (most recent call last):
    ...
    lib.store.runs.NotStored: run {'seed': 0} is not stored
    """
    token = _ONLY_STORED.set(True)
    try:
        yield
    finally:
        _ONLY_STORED.reset(token)


@contextlib.contextmanager
def reads() -> Iterator[list[Run]]:
    """Within this context every run looked up in the store (read back or computed) is appended to the list it
    yields: which runs a piece of code reads (``tests/test_pipeline.py`` compares a notebook's with its stage's
    :func:`lib.protocols.stages.runs_of`)."""
    found: list[Run] = []
    token = _READS.set(found)
    try:
        yield found
    finally:
        _READS.reset(token)


def _header(run: Run, module: str) -> dict:
    """What makes an entry (the key's parts; its code once computed), what computed it, and in how many processes
    (outside the key: like the CPU model, a distributed run changes float rounding only)."""
    if (found := _READS.get()) is not None:
        found.append(run)
    return {
        "kind": run.kind,
        "section": run.view.section,
        "params": run.view.params(),
        "run": run.key(),
        "versions": versions(),
        "module": module,
        "processes": world()[1],
    }


def _missing(header: dict) -> None:
    if _ONLY_STORED.get():
        raise NotStored(f"{header['kind']} {header['run']} is not stored")


def _timing(start: float) -> dict:
    """How long the computation since ``start`` took, and on which CPU (outside the key: what a run cost,
    not what it is; :mod:`lib.scale.sizing` reads it)."""
    return {"seconds": round(time.perf_counter() - start, 3), "cpu": cpu_name()}


def _lookup(folder: Path, header: dict, suffix: str) -> Any | None:
    """The result of the entry of ``header``'s key under ``folder`` whose recorded code is today's, or ``None``;
    its code joins the recording of the run reading it. A corrupt entry is reported and removed."""
    for path in sorted(folder.glob(f"{_key(header)}.*{suffix}")):
        try:
            stored, body = _read(path)
        except CorruptEntry as err:
            warnings.warn(f"run store: {path} is corrupt ({err}); removed, recomputing", stacklevel=3)
            path.unlink()
            continue
        if not units.changed(stored["code"]):
            units.read_back(stored["code"])
            return body
    return None


def cached(run: Run, compute: Callable[[], Any], root: Path | None = None) -> Any:
    """The JSON result of ``compute()`` for ``run``, computed once and then read back (the first call returns it as
    read back too, so both give equal values). The entry records the code ``compute()`` executed."""
    header = _header(run, compute.__module__)
    folder = (root or RUNS) / run.kind
    found = _lookup(folder, header, ".json")
    if found is not None:
        return found
    _missing(header)
    start = time.perf_counter()
    with units.recording() as executed:
        result = json.loads(json.dumps(compute(), default=str))
    header |= _timing(start) | {"code": executed.code}
    text = json.dumps(
        {"header": header | {"checksum": _checksum(json.dumps(result, sort_keys=True).encode())}, "result": result}
    )
    _write(folder / f"{_name(header)}.json", lambda p: p.write_text(text))
    return result


def cached_model(
    run: Run,
    build: Callable[[], nn.Module],
    fit: Callable[[nn.Module], Any],
    root: Path | None = None,
    train: bool = True,
    missing: str = "",
) -> tuple[nn.Module, Any]:
    """A model built by ``build()`` and trained in place by ``fit(model)`` (which returns a JSON-able record),
    stored once and then loaded: ``(model, record)``; the entry records the code both executed. With
    ``train=False`` a missing entry raises :class:`FileNotFoundError` with ``missing`` (what to run) instead of
    training."""
    header = _header(run, fit.__module__)
    folder = (root or RUNS) / run.kind
    found = _lookup(folder, header, ".pt")
    if found is not None:
        state, record = found
        model = build()
        model.load_state_dict(state)
        return model, record
    _missing(header)
    if not train:
        raise FileNotFoundError(f"no stored {run.kind} run for {run.key()} under {folder}. {missing}")
    start = time.perf_counter()
    with units.recording() as executed:
        model = build()
        record = json.loads(json.dumps(fit(model), default=str))
    header |= _timing(start) | {"code": executed.code}
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    text = json.dumps(record)
    stored = {
        "state": state,
        "record": text,
        "header": json.dumps(header | {"checksum": _checksum(_state_bytes(state) + text.encode())}),
    }
    _write(folder / f"{_name(header)}.pt", lambda p: torch.save(stored, p))
    return model, record


# --- the command line: list, explain, verify, prune ---------------------------------------------------------------


def entries(root: Path | None = None) -> Iterator[Path]:
    """Every stored entry (``.json`` and ``.pt``) under the store."""
    base = root or RUNS
    if base.exists():
        yield from sorted(p for p in base.glob("*/*") if p.suffix in (".json", ".pt"))


def records(root: Path | None = None) -> Iterator[tuple[Path, dict | None, str | None]]:
    """``(path, header, None)`` for every readable entry of the store, ``(path, None, why)`` for a corrupt one."""
    for path in entries(root):
        try:
            yield path, _read(path)[0], None
        except CorruptEntry as err:
            yield path, None, str(err)


def why_stale(header: dict, current: set[tuple[str, str, str]]) -> list[str]:
    """Why no current configuration produces an entry (empty: it is current): code it executed is no longer today's
    (the units named), its library versions differ from today's, or it is none of the ``current`` runs (their
    :meth:`Run.identity`: what the stages list)."""
    reasons = []
    if changed := units.changed(header["code"]):
        reasons.append("code changed: " + ", ".join(changed))
    if header["versions"] != versions():
        reasons.append(f"versions {header['versions']} ≠ installed {versions()}")
    if identity_of(header) not in current:
        reasons.append("no stage of any profile lists it")
    return reasons
