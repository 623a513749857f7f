"""FlexRel's stages as run lists (registered with :mod:`lib.protocols.stages`: Fig. 2 and Fig. 4 of notebooks 01
and 03, and notebooks 07-09), and the studies beyond the paper (07-09), the runs: FlexRel's
unstated choices, the open questions its paper lists, today's criteria beside it (the two papers crossed:
:mod:`lib.protocols.crossed`), and FlexRel on a residual network. Their verdicts are :mod:`lib.verdicts.study_claims`.

Everything runs on section ``flexrel``'s base networks and protocol (retention: pruned, BatchNorm
re-estimated, no weight update) at section ``studies``'s pruning levels. An **arm** is one (parameters, method,
δ) whose retention runs are stored like notebook 01's (:func:`lib.protocols.flexrel.retention`): an arm that 01
already ran is read back, not rerun.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd
import torch

from ..params import profiles
from ..params.catalogue import CRITERIA, NETWORKS
from ..params.flexrel import FlexRelParams
from ..params.studies import VARIANTS, StudiesParams, baseline_label, first_seeds, residual
from . import crossed, flexrel, stages
from .base_networks import device


@dataclasses.dataclass(frozen=True)
class Arm:
    """A labelled set of retention runs: ``method`` (FlexRel at ``delta``) under parameters ``p``."""

    label: str
    p: FlexRelParams
    method: str
    delta: float | None = None


def variant(p: FlexRelParams, name: str) -> tuple[Arm, Arm]:
    """FlexRel's arm and its comparison's arm for a row of :data:`lib.params.studies.VARIANTS` (raises
    :class:`lib.params.schema.ParamsError` if the overrides do not apply to ``p``, e.g. unseen images without a
    ``train_subset``)."""
    spec = VARIANTS[name]
    return (
        Arm(name, p.replace(**spec.get("flexrel", {})), "flexrel", p.delta),
        Arm(f"{name} · baseline", p.replace(**spec.get("baseline", {})), spec.get("method", "magnitude")),
    )


def plan(arm: Arm, factors: list[float]) -> flexrel.Plan:
    """An arm's retention runs at ``factors`` (random: every draw), for each seed of its parameters."""
    draws = arm.p.random_draws if arm.method == "random" else 1
    return [(arm.method, f, arm.delta, d) for f in factors for d in range(draws)]


def arm_runs(arms: Iterable[Arm], factors: list[float], dev: torch.device | None = None) -> list[flexrel.Pruning]:
    """Every arm's retention runs at ``factors``, for each seed of its parameters (random: every draw), labelled with
    the arm (runs that 01 or another arm lists are the same stored runs)."""
    return [run for arm in arms for run in flexrel.planned(arm.p, "retention", plan(arm, factors), dev, arm.label)]


def frame(todo: Iterable[flexrel.Pruning]) -> pd.DataFrame:
    """Retention rows of the arms' runs ``todo`` (:func:`arm_runs`; read back or computed), with ``params_removed``
    and the arm's label in ``arm``; arm by arm, in the order listed."""
    todo = list(todo)
    labels = dict.fromkeys(r.arm for r in todo)
    frames = [flexrel.frame([r for r in todo if r.arm == arm]) for arm in labels]
    return pd.concat([f[f.factor > 0].assign(arm=arm) for f, arm in zip(frames, labels)], ignore_index=True)


def sensitivity_arms(p: FlexRelParams, b: StudiesParams) -> list[Arm]:
    """Notebook 07's arms: the default FlexRel, magnitude, random and today's criteria (notebook 01's runs),
    then every variant's FlexRel and comparison arm (an arm equal to a default one is listed once)."""
    arms = [
        Arm("flexrel", p, "flexrel", p.delta),
        Arm("magnitude", p, "magnitude"),
        Arm("random", p, "random"),
        *(Arm(m, p, m) for m in p.baselines),
    ]
    for name in b.variants:
        ours, theirs = variant(p, name)
        arms.append(ours)
        if baseline_label(p, name) == theirs.label:  # else the default magnitude arm is its comparison
            arms.append(theirs)
    return arms


def second_model(p: FlexRelParams, b: StudiesParams) -> FlexRelParams:
    """Section ``flexrel`` on ``studies.second_model`` (same data and training; a network without convolutions
    prunes its hidden neurons; baselines it has nothing for are dropped)."""
    network = NETWORKS[b.second_model]
    return p.replace(
        model=b.second_model,
        prune_linear=p.prune_linear or not network.convolutional,
        baselines=[m for m in p.baselines if CRITERIA[m].applies(network)],
    )


def delta_arms(p: FlexRelParams) -> list[Arm]:
    """Fig. 4's δ sweep as arms (``delta=<δ>``; δ = 0 and 1 are the partner and relevance runs), with random."""
    return [*(Arm(f"delta={d:g}", p, "flexrel", d) for d in p.deltas), Arm("random", p, "random")]


def open_arms(p: FlexRelParams, b: StudiesParams) -> list[Arm]:
    """Notebook 08's arms on the default network: each shift (magnitude and FlexRel measured on shifted images,
    FlexRel with relevance on shifted images measured on shifted and on clean ones), relevance combined with
    Taylor, and dynamic relevance; with the default FlexRel, magnitude, Taylor, contribution and random."""
    arms = [
        Arm("flexrel", p, "flexrel", p.delta),
        Arm("magnitude", p, "magnitude"),
        Arm("random", p, "random"),
        Arm("contribution", p, "contribution"),
        Arm("taylor", p, "taylor"),
    ]
    for s in b.shifts:
        on_shifted, rel_shifted = p.replace(test_shift=s), p.replace(relevance_shift=s)
        arms += [
            Arm(f"{s}: magnitude", on_shifted, "magnitude"),
            Arm(f"{s}: flexrel", on_shifted, "flexrel", p.delta),
            Arm(f"{s}: flexrel, matched relevance", on_shifted.replace(relevance_shift=s), "flexrel", p.delta),
            Arm(f"{s} relevance: flexrel on clean", rel_shifted, "flexrel", p.delta),
        ]
    arms += [
        Arm("flexrel with taylor", p.replace(partner="taylor"), "flexrel", p.delta),
        Arm("dynamic flexrel", p.replace(prune_steps=b.prune_steps), "flexrel", p.delta),
    ]
    return arms


def residual_arms(p: FlexRelParams) -> list[Arm]:
    """Notebook 09's retention arms on the residual section ``p`` (:func:`lib.params.studies.residual`): the δ sweep
    with random, magnitude and relevance, and today's criteria. On a residual network FlexRel at δ = 0 and 1 are
    runs of their own (:func:`lib.protocols.flexrel.canonical`): each layer's scores are normalised before the
    group's mean, magnitude's and relevance's are not."""
    return [
        *delta_arms(p),
        Arm("magnitude", p, "magnitude"),
        Arm("relevance", p, "relevance"),
        *(Arm(m, p, m) for m in p.baselines),
    ]


@stages.lists("01_flexrel_accuracy_vs_pruning")
def flexrel_fig2(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 01: the base networks, then Fig. 2's retention runs of every method and baseline and its recovery
    runs of every method."""
    p = profiles.load("flexrel", profile)
    stages.require(absent, p.dataset)
    dev = device(p)
    retention, recovery = flexrel.fig2_plans(p)
    return {
        "bases": flexrel.bases(p, dev),
        "retention": flexrel.planned(p, "retention", retention, dev),
        "recovery": flexrel.planned(p, "recovery", recovery, dev),
    }


@stages.lists("03_flexrel_delta_sweep")
def flexrel_fig4(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 03: the δ sweep on notebook 01's base networks (never trained here)."""
    p = profiles.load("flexrel", profile)
    stages.require(absent, p.dataset)
    dev = device(p)
    return {
        "bases": flexrel.bases(p, dev, trains=False),
        "sweep": flexrel.planned(p, "retention", flexrel.fig4_plan(p), dev),
    }


@stages.lists("07_flexrel_sensitivity")
def flexrel_sensitivity(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 07: every variant's retention runs on notebook 01's base networks (the studies' seeds)."""
    b = profiles.load("studies", profile)
    p = first_seeds(profiles.load("flexrel", profile), b)
    stages.require(absent, p.dataset)
    dev = device(p)
    return {
        "bases": flexrel.bases(p, dev, trains=False),
        "arms": arm_runs(sensitivity_arms(p, b), b.factors, dev),
    }


@stages.lists("08_flexrel_open_questions")
def flexrel_open(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 08: the second architecture's base networks and δ sweep, the open questions' arms on notebook 01's
    base networks, and the papers crossed (the studies' seeds)."""
    b = profiles.load("studies", profile)
    p, r = (first_seeds(profiles.load(s, profile), b) for s in ("flexrel", "rank"))
    stages.require(absent, p.dataset, b.cross_dataset)
    dev, p2 = device(p), second_model(p, b)
    return {
        "second_bases": flexrel.bases(p2, dev),
        "bases": flexrel.bases(p, dev, trains=False),
        "second": arm_runs(delta_arms(p2), b.factors, dev),
        "arms": arm_runs(open_arms(p, b), b.factors, dev),
        "crossed": crossed.planned(r, b.cross_dataset),
    }


@stages.lists("09_flexrel_resnet")
def flexrel_resnet(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 09: the residual network's base networks, its arms' retention runs and its recovery runs (the
    studies' seeds)."""
    b = profiles.load("studies", profile)
    p = first_seeds(profiles.load("flexrel", profile), b)
    stages.require(absent, p.dataset)
    net = residual(p, b)
    dev = device(net)
    return {
        "bases": flexrel.bases(net, dev),
        "arms": arm_runs(residual_arms(net), b.factors, dev),
        "recovery": flexrel.planned(net, "recovery", flexrel.fig2_plan(net, net.recovery_factors), dev),
    }
