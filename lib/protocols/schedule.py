"""Study 2: the FlexRel paper's training schedule as a protocol (§IV), each run a stored run.

"A total of 50 training epochs: 10 with the full DNN, and 40 with the pruned DNN", magnitude and relevance computed
after the first 10. So, per seed and for a budget of ``B`` epochs (section ``schedule``,
:func:`lib.params.schedule.scheduled`):

1. :class:`Early` — the full network trained ``B × pre_fraction`` epochs (the paper's 10 of 50);
2. :class:`Scheduled` — that network scored (magnitude, relevance, FlexRel at its δ; random draws), pruned per layer
   at a factor, BatchNorm re-estimated, and trained for the remaining epochs by the same recipe, the learning-rate
   schedule carried on across the pruning point or restarted (``lr_across``), on a fresh optimizer (pruning replaces
   the parameters); the unpruned network (method ``unpruned``, factor 0) is trained on just the same. One row per
   post-pruning epoch (``post_epoch``; 0: right after pruning) with the held-out test accuracy: the trajectory; its
   last row is the measure the paper reports.

The stage's list of runs (:func:`lib.protocols.stages.lists`) is registered here: notebook 10 imports no other
protocol. Scores are computed inside each run (relevance costs seconds where the run trains for minutes), on the
network after the first phase, and their time is recorded (``relevance_seconds``) beside every epoch's
(``seconds``) for Fig. 3.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..core import prune
from ..params import profiles
from ..params.catalogue import CRITERIA as CATALOGUE
from ..params.schedule import ScheduledParams, scheduled
from ..store import runs
from . import stages
from .base_networks import GRID, Base, Images, Recipe, device, evaluate, fit, place
from .flexrel import Scoring, _combine, _prunable, coordinates, criterion_scores, needs, prune_in_steps

#: Fields of a scheduled section a :class:`Scheduled` run never reads, beyond :data:`GRID`: one-shot pruning and the
#: test images as they are, always (study 2 runs neither steps nor shifts).
NOT_READ = ("prune_steps", "test_shift")


def early_recipe(p: ScheduledParams | runs.View) -> Recipe:
    """The full network's phase: ``epochs_pre`` epochs, of a schedule spanning the whole budget (``continue``) or
    only them (``restart``)."""
    span = p.budget if p.lr_across == "continue" else None
    return Recipe(p.optimizer, p.lr, p.momentum, p.weight_decay, p.lr_schedule, p.epochs_pre, None, p.amp, span)


def late_recipe(p: ScheduledParams | runs.View) -> Recipe:
    """The pruned network's phase: the remaining ``epochs_post`` epochs by the same recipe, the schedule carried on
    from where the first phase stopped (``continue``) or started again (``restart``)."""
    span, skip = (p.budget, p.epochs_pre) if p.lr_across == "continue" else (None, 0)
    return Recipe(p.optimizer, p.lr, p.momentum, p.weight_decay, p.lr_schedule, p.epochs_post, None, p.amp, span, skip)


@dataclass(frozen=True)
class Early(Base):
    """A seed's full network after the first ``epochs_pre`` epochs of the budget (:func:`early_recipe`): what every
    criterion scores and every run of the seed prunes."""

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "schedule-pre"

    def recipe(self) -> Recipe:
        return early_recipe(self.view)


#: The method of the run that prunes nothing and trains the full network through the whole budget.
UNPRUNED = "unpruned"


@dataclass(frozen=True)
class Scheduled(runs.Run):
    """One run of study 2 (a stored run): ``seed``'s :class:`Early` network pruned by ``method`` (FlexRel at
    ``delta``; random: its ``draw``; :data:`UNPRUNED` at factor 0: not pruned) at ``factor`` of the filters per
    layer, then trained for the rest of the budget on ``device``. Its fields keep what was asked; :meth:`key` files
    it canonically (:func:`lib.protocols.flexrel.canonical`)."""

    method: str
    factor: float
    delta: float | None
    draw: int
    device: str
    kind: ClassVar[str] = "schedule-run"
    phase: ClassVar[int] = 1

    def __post_init__(self) -> None:
        self.key()  # a factor outside (0, 1), an unknown method or FlexRel without δ raises here

    @classmethod
    def of(
        cls,
        p: ScheduledParams,
        seed: int,
        method: str,
        factor: float,
        delta: float | None = None,
        draw: int = 0,
        dev: torch.device | None = None,
    ) -> Scheduled:
        """The run of section ``p`` (on ``dev``; default: the device ``p`` asks for)."""
        return cls(runs.View(p, GRID + NOT_READ), seed, method, factor, delta, draw, str(dev or device(p)))

    def key(self) -> dict:
        if self.method != UNPRUNED:
            return coordinates(self.view, self.seed, self.method, self.factor, self.delta, self.draw, self.device)
        if self.factor != 0.0:
            raise ValueError(f"the unpruned run has factor 0, got {self.factor!r}")
        return {"seed": self.seed, "method": UNPRUNED, "factor": 0.0, "delta": None, "draw": 0, "device": self.device}

    def base(self) -> Early:
        """The network it starts from."""
        return Early.of(self.view, self.seed, torch.device(self.device))

    def inputs(self) -> list[runs.Run]:
        return [self.base()]

    def result(self) -> list[dict]:
        """One row per post-pruning epoch (0: right after pruning), as stored (the canonical method and δ)."""
        return runs.cached(self, self._compute)

    def rows(self) -> list[dict]:
        """:meth:`result` with the method, δ and draw that were asked."""
        return [{**r, "method": self.method, "delta": self.delta, "draw": self.draw} for r in self.result()]

    def _compute(self) -> list[dict]:
        q, where = self.view, self.key()
        seed, method, dev = self.seed, where["method"], torch.device(self.device)
        images = Images.of(q, seed)
        net, _ = self.base().result()
        x0 = images.example().to(dev)
        seconds = 0.0
        if method == UNPRUNED:
            model = place(copy.deepcopy(net), dev)
        else:
            if CATALOGUE[method].role == "control":
                s = _prunable(q.prune_linear, net, prune.random_scores(net, 1000 * seed + where["draw"]))
            else:
                found, seconds = criterion_scores(Scoring.of(q, seed), net, needs(q, method))
                s = _combine(found, net, method, where["delta"], q.partner, q.normalisation)
            model, seconds = prune_in_steps(
                net, s, self.factor, 1, _no_rescoring, q.scope, x0,
                lambda: images.batches("train", seed, dev=dev), q.bn_batches, seconds,
            )  # fmt: skip
        common = {**where, **prune.count(model, x0), "relevance_seconds": seconds, "stage": "schedule"}
        first = {"post_epoch": 0, **evaluate(model, images, dev, q.amp), "seconds": 0.0}
        trained = fit(model, images, late_recipe(q), seed, dev)
        return [{**common, **r} for r in [first, *({"post_epoch": e, **r} for e, r in enumerate(trained, 1))]]


def _no_rescoring(model: torch.nn.Module) -> tuple[prune.Scores, float]:
    raise AssertionError("study 2 prunes in one shot: nothing is rescored")


Plan = list[tuple[str, float, float | None, int]]


def plan(p: ScheduledParams) -> Plan:
    """Every method at every factor (FlexRel at ``delta``, random at each draw), FlexRel at each of Fig. 4's δ at its
    factors, and the unpruned network: each (method, factor, δ, draw) once."""
    runs_: Plan = [(UNPRUNED, 0.0, None, 0)]
    for m in p.methods:
        combinator = CATALOGUE[m].role == "combinator"
        draws = range(p.random_draws) if CATALOGUE[m].role == "control" else [0]
        runs_ += [(m, f, p.delta if combinator else None, d) for f in p.factors for d in draws]
    runs_ += [("flexrel", f, d, 0) for f in p.delta_factors for d in p.deltas if ("flexrel", f, d, 0) not in runs_]
    return runs_


def planned(p: ScheduledParams, dev: torch.device | None = None) -> list[Scheduled]:
    """:func:`plan`'s runs for every seed of ``p``, seed by seed."""
    dev = dev or device(p)
    return [Scheduled.of(p, seed, m, f, d, draw, dev) for seed in p.seeds for m, f, d, draw in plan(p)]


def frame(todo: list[Scheduled]) -> pd.DataFrame:
    """The trajectories of ``todo``, read back or computed with a progress bar: one row per seed, method, δ, draw,
    factor and ``post_epoch``, with ``params_removed`` and ``macs_removed`` (against the seed's unpruned run) and the
    time up to each epoch (``elapsed``: the first phase, relevance, and the post-pruning epochs so far)."""
    rows = []
    for run in tqdm(todo, desc="schedule"):
        pre = sum(r["seconds"] for r in run.base().result()[1])
        rows += [{**r, "pre_seconds": pre} for r in run.rows()]
    out = pd.DataFrame(rows)
    full = out[out.method == UNPRUNED].groupby("seed")[["params", "macs"]].first()
    out["params_removed"] = 1 - out.params / out.seed.map(full.params)
    out["macs_removed"] = 1 - out.macs / out.seed.map(full.macs)
    out = out.sort_values(["seed", "method", "factor", "delta", "draw", "post_epoch"], na_position="first")
    out["elapsed"] = (
        out.pre_seconds
        + out.relevance_seconds
        + out.groupby(["seed", "method", "factor", "delta", "draw"], dropna=False).seconds.cumsum()
    )
    return out.reset_index(drop=True)


@stages.lists("10_flexrel_schedule")
def flexrel_schedule(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 10 (study 2): every seed's network after the first share of the budget, then every scheduled run
    (:mod:`lib.protocols.schedule`) on the confirmatory seeds of section ``schedule``."""
    p = scheduled(profiles.load("flexrel", profile), profiles.load("schedule", profile))
    stages.require(absent, p.dataset)
    return parts(p)


def parts(p: ScheduledParams, dev: torch.device | None = None) -> stages.Runs:
    """Study 2's runs of ``p``'s seeds, by part: each seed's :class:`Early` network, then :func:`planned`'s runs (on
    ``dev``; default: the device ``p`` asks for). Notebook 10 reads the confirmatory seeds', the pilot its own."""
    dev = dev or device(p)
    return {"bases": [Early.of(p, seed, dev) for seed in p.seeds], "runs": planned(p, dev)}
