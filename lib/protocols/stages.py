"""Which stored runs each stage reads, listed once: its notebook reads them (:func:`runs_of`), :mod:`lib.scale.sweep`
computes them with the runs they read in turn (:func:`with_inputs`), :mod:`lib.scale.sizing` counts them.

A stage's runs come in named parts (``bases``, ``retention``, ...), each a list of :class:`lib.store.runs.Run`
values in the order its notebook shows them; ``tests/test_pipeline.py`` checks that a notebook reads exactly the
runs :func:`runs_of` lists for its stage. A run two parts or two stages list is one stored run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from lib.core import data
from lib.params import profiles
from lib.params.studies import residual
from lib.protocols import crossed, flexrel, studies, train_time, train_time_vae
from lib.protocols.base_networks import device
from lib.store import runs

#: A stage's runs, by part.
Runs = dict[str, list[runs.Run]]
#: Why a dataset cannot be opened here (with the command that fetches it), or ``None`` if it can:
#: :func:`lib.core.data.absent`, or, to size a profile whose data is elsewhere (:mod:`lib.scale.sizing`),
#: ``lambda name: None``.
Absent = Callable[[str], "str | None"]


def _require(absent: Absent, *datasets: str) -> None:
    """Stop before any run if a dataset the stage trains on is not here."""
    for name in datasets:
        if (why := absent(name)) is not None:
            raise data.DatasetMissing(why)


def flexrel_fig2(profile: str, absent: Absent) -> Runs:
    """Notebook 01: the base networks, then Fig. 2's retention runs of every method and baseline and its recovery
    runs of every method."""
    p = profiles.load("flexrel", profile)
    _require(absent, p.dataset)
    dev = device(p)
    retention, recovery = flexrel.fig2_plans(p)
    return {
        "bases": flexrel.bases(p, dev),
        "retention": flexrel.planned(p, "retention", retention, dev),
        "recovery": flexrel.planned(p, "recovery", recovery, dev),
    }


def flexrel_fig4(profile: str, absent: Absent) -> Runs:
    """Notebook 03: the δ sweep on notebook 01's base networks (never trained here)."""
    p = profiles.load("flexrel", profile)
    _require(absent, p.dataset)
    dev = device(p)
    return {
        "bases": flexrel.bases(p, dev, trains=False),
        "sweep": flexrel.planned(p, "retention", flexrel.fig4_plan(p), dev),
    }


def rank_fig1(profile: str, absent: Absent) -> Runs:
    """Notebook 04: every train-time pruning run on ``rank.datasets``."""
    p = profiles.load("rank", profile)
    _require(absent, *p.datasets)
    return {"runs": train_time.jobs(p, p.datasets)}


def rank_table1(profile: str, absent: Absent) -> Runs:
    """Notebook 05: the runs of ``rank.table_datasets`` notebook 04 does not make, where the data is here (the
    notebook reports the others as not run)."""
    p = profiles.load("rank", profile)
    return {"runs": train_time.jobs(p, [d for d in p.table_datasets if d not in p.datasets and absent(d) is None])}


def vae_fig2(profile: str, absent: Absent) -> Runs:
    """Notebook 06: the pruned and unpruned VAE of every seed, and from scratch at the pruned run's widths."""
    p = profiles.load("vae", profile)
    _require(absent, p.dataset)
    return {"runs": train_time_vae.planned(p)}


def flexrel_sensitivity(profile: str, absent: Absent) -> Runs:
    """Notebook 07: every variant's retention runs on notebook 01's base networks."""
    p, b = profiles.load("flexrel", profile), profiles.load("studies", profile)
    _require(absent, p.dataset)
    dev = device(p)
    return {
        "bases": flexrel.bases(p, dev, trains=False),
        "arms": studies.arm_runs(studies.sensitivity_arms(p, b), b.factors, dev),
    }


def flexrel_open(profile: str, absent: Absent) -> Runs:
    """Notebook 08: the second architecture's base networks and δ sweep, the open questions' arms on notebook 01's
    base networks, and the papers crossed."""
    p, b, r = (profiles.load(s, profile) for s in ("flexrel", "studies", "rank"))
    _require(absent, p.dataset, b.cross_dataset)
    dev, p2 = device(p), studies.second_model(p, b)
    return {
        "second_bases": flexrel.bases(p2, dev),
        "bases": flexrel.bases(p, dev, trains=False),
        "second": studies.arm_runs(studies.delta_arms(p2), b.factors, dev),
        "arms": studies.arm_runs(studies.open_arms(p, b), b.factors, dev),
        "crossed": crossed.planned(r, b.cross_dataset),
    }


def flexrel_resnet(profile: str, absent: Absent) -> Runs:
    """Notebook 09: the residual network's base networks, its arms' retention runs and its recovery runs."""
    p, b = profiles.load("flexrel", profile), profiles.load("studies", profile)
    _require(absent, p.dataset)
    net = residual(p, b)
    dev = device(net)
    return {
        "bases": flexrel.bases(net, dev),
        "arms": studies.arm_runs(studies.residual_arms(net), b.factors, dev),
        "recovery": flexrel.planned(net, "recovery", flexrel.fig2_plan(net, net.recovery_factors), dev),
    }


#: The stages whose notebooks read stored runs, and how to list them (the other stages only read results).
STAGES: dict[str, Callable[[str, Absent], Runs]] = {
    "01_flexrel_accuracy_vs_pruning": flexrel_fig2,
    "03_flexrel_delta_sweep": flexrel_fig4,
    "04_rank_random_vs_rank": rank_fig1,
    "05_rank_table1": rank_table1,
    "06_rank_vae": vae_fig2,
    "07_flexrel_sensitivity": flexrel_sensitivity,
    "08_flexrel_open_questions": flexrel_open,
    "09_flexrel_resnet": flexrel_resnet,
}


def runs_of(stage: str, profile: str, absent: Absent = data.absent) -> Runs:
    """The runs stage ``stage``'s notebook reads at ``profile``, by part. Raises
    :class:`lib.core.data.DatasetMissing` (with the command that fetches it) if a dataset it trains on is not here,
    and :class:`lib.params.schema.ParamsError` on parameters its runs cannot have, both before any run."""
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} reads no stored runs; stages that do: {list(STAGES)}")
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
