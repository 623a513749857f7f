"""Which stored runs each stage reads, listed once: its notebook reads them (:func:`runs_of`), :mod:`lib.scale.sweep`
computes them with the runs they read in turn (:func:`with_inputs`), :mod:`lib.scale.sizing` counts them. Each
stage's list is registered beside its protocol (:data:`STAGES`).

A stage's runs come in named parts (``bases``, ``retention``, ...), each a list of :class:`lib.store.runs.Run`
values in the order its notebook shows them; ``tests/test_pipeline.py`` checks that a notebook reads exactly the
runs :func:`runs_of` lists for its stage. A run two parts or two stages list is one stored run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..core import data
from ..store import runs

#: A stage's runs, by part.
Runs = dict[str, list[runs.Run]]
#: Why a dataset cannot be opened here (with the command that fetches it), or ``None`` if it can:
#: :func:`lib.core.data.absent`, or, to size a profile whose data is elsewhere (:mod:`lib.scale.sizing`),
#: ``lambda name: None``.
Absent = Callable[[str], "str | None"]


def require(absent: Absent, *datasets: str) -> None:
    """Stop before any run if a dataset the stage trains on is not here."""
    for name in datasets:
        if (why := absent(name)) is not None:
            raise data.DatasetMissing(why)


#: Per stage whose notebook reads stored runs, how to list them: ``lists(profile, absent) → Runs``, registered
#: (``@lists("04_rank_random_vs_rank")``) in the protocol module its notebook imports anyway —
#: :mod:`lib.protocols.studies` for FlexRel's stages 01-09, :mod:`lib.protocols.schedule` for study 2's,
#: :mod:`lib.protocols.train_time` and :mod:`lib.protocols.train_time_vae` for the rank paper's. A list is no part of
#: a run's key, wherever it sits: a run records only the code it executes (:mod:`lib.core.code`). A notebook so
#: imports the protocols it runs and no other (``dvc.yaml`` lists exactly those modules); :mod:`lib.scale.sweep`
#: imports every one.
STAGES: dict[str, Callable[[str, Absent], Runs]] = {}


def lists(stage: str) -> Callable:
    """Register the decorated ``(profile, absent) → Runs`` as the runs stage ``stage`` reads."""

    def register(fn: Callable[[str, Absent], Runs]) -> Callable[[str, Absent], Runs]:
        STAGES[stage] = fn
        return fn

    return register


def runs_of(stage: str, profile: str, absent: Absent = data.absent) -> Runs:
    """The runs stage ``stage``'s notebook reads at ``profile``, by part. Raises
    :class:`lib.core.data.DatasetMissing` (with the command that fetches it) if a dataset it trains on is not here,
    and :class:`lib.params.schema.ParamsError` on parameters its runs cannot have, both before any run."""
    if stage not in STAGES:
        raise ValueError(
            f"stage {stage!r} reads no stored runs (or its protocol is not imported); stages registered: {list(STAGES)}"
        )
    return STAGES[stage](profile, absent)


def every(todo: Runs) -> list[runs.Run]:
    """A stage's runs of every part, each stored run once (where first listed)."""
    found: dict[tuple, runs.Run] = {}
    for part in todo.values():
        for run in part:
            found.setdefault(run.identity(), run)
    return list(found.values())


def with_inputs(todo: Iterable[runs.Run]) -> list[runs.Run]:
    """``todo`` and every run they read in turn (:meth:`lib.store.runs.Run.inputs`: a pruning run's base network and
    scores), each stored run once, ordered by phase (a run after every run it reads) and then as listed."""
    found: dict[tuple, runs.Run] = {}
    stack = list(todo)[::-1]
    while stack:
        run = stack.pop()
        if run.identity() not in found:
            found[run.identity()] = run
            stack += run.inputs()[::-1]
    return sorted(found.values(), key=lambda r: r.phase)
