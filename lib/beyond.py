"""Beyond the papers (notebooks 07 and 08): FlexRel's unstated choices, the open questions its paper lists,
today's criteria beside it, and the two papers crossed.

Everything runs on section ``flexrel``'s base networks and protocol (retention: pruned, BatchNorm
re-estimated, no weight update) at section ``beyond``'s pruning levels, and is judged by the verdict engine
(:mod:`lib.report`): one paired difference per seed, averaged over the levels, its 95 % t interval, and the
random gate of the regime. An **arm** is one (parameters, method, δ) whose retention runs are stored like
notebook 01's (:func:`lib.flexrel.retention`): an arm that 01 already ran is read back, not rerun.

>>> sorted(VARIANTS)[:2]
['composite=EpsilonAlpha2Beta1', 'composite=EpsilonGammaBox']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd
import torch

from lib import flexrel, rank, report, runs, scores, stats, train
from lib.config import VARIANTS, BeyondParams, FlexRelParams, RankParams

#: The ``paper`` column of every row here: kept apart from the papers' own claims.
PAPER = "Beyond the papers"


@dataclasses.dataclass(frozen=True)
class Arm:
    """A labelled set of retention runs: ``method`` (FlexRel at ``delta``) under parameters ``p``."""

    label: str
    p: FlexRelParams
    method: str
    delta: float | None = None


def variant(p: FlexRelParams, name: str) -> tuple[Arm, Arm]:
    """FlexRel's arm and its comparison's arm for a row of :data:`lib.config.VARIANTS` (raises
    :class:`lib.config.ParamsError` if the overrides do not apply to ``p``, e.g. unseen images without a
    ``train_subset``)."""
    spec = VARIANTS[name]
    return (Arm(name, dataclasses.replace(p, **spec.get("flexrel", {})), "flexrel", p.delta),
            Arm(f"{name} · baseline", dataclasses.replace(p, **spec.get("baseline", {})), spec.get("method", "magnitude")))


def plan(arm: Arm, factors: list[float]) -> flexrel.Plan:
    """An arm's retention runs at ``factors`` (random: every draw), for each seed of its parameters."""
    draws = arm.p.random_draws if arm.method == "random" else 1
    return [(arm.method, f, arm.delta, d) for f in factors for d in range(draws)]


def retention(arms: Iterable[Arm], factors: list[float]) -> pd.DataFrame:
    """Retention rows of every arm at every factor and seed of its parameters (random: every draw), with
    ``params_removed`` and the arm's label in ``arm``; stored runs are read back."""
    frames = []
    for arm in arms:
        frame = flexrel.sweep_retention(arm.p, plan(arm, factors))
        frames.append(frame[frame.factor > 0].assign(arm=arm.label))
    return pd.concat(frames, ignore_index=True)


def difference(frame: pd.DataFrame, a: str, b: str, value: str = "test_acc") -> pd.Series:
    """Per seed, arm ``a`` minus arm ``b`` of ``value`` averaged over the pruning levels (draws averaged first)."""
    levels = report.mean_over_levels(frame.assign(method=frame.arm), value)
    return report.compare(levels, a, b, value)


def removed(frame: pd.DataFrame, arm: str) -> float:
    """Mean fraction of parameters an arm removed over its levels and seeds."""
    return float(frame[frame.arm == arm].params_removed.mean())


def control(frame: pd.DataFrame, criteria: list[str], ctx: report.Context) -> tuple[report.Claim, bool]:
    """The random control on the arms ``criteria`` and ``random`` of ``frame`` (at these levels only)."""
    c = report.control(frame.assign(method=frame.arm), criteria)
    row = report.control_claim(c, source=ctx.source, dataset=ctx.dataset, deviation=ctx.deviation)
    return row, c.passed


def row(text: str, quantity: str, values: pd.Series, ctx: report.Context, paper_value: str = "(not in the papers)",
        comparative: bool = True, family: int = 1) -> report.Claim:
    """One finding as a verdict row: the claim that ``values`` (one per seed) lie above 0. A row scanned among
    ``family`` rows for a decided one gets its interval widened for the scan (Bonferroni: level
    1 − 0.05 / ``family``), and says so in its quantity."""
    if family > 1:
        quantity += f" (interval widened for {family} rows scanned)"
    e = stats.interval(values, 1 - (1 - stats.LEVEL) / family)
    return report.claim(PAPER, text, paper_value, quantity, e, "above", comparative=comparative, source=ctx.source,
                        dataset=ctx.dataset, deviation=ctx.deviation)


# --- notebook 07: sensitivity ---------------------------------------------------------------------------------------


def sensitivity_arms(p: FlexRelParams, b: BeyondParams) -> list[Arm]:
    """Notebook 07's arms: the default FlexRel, magnitude, random and today's criteria (notebook 01's runs),
    then every variant's FlexRel and comparison arm (an arm equal to a default one is listed once)."""
    arms = [Arm("flexrel", p, "flexrel", p.delta), Arm("magnitude", p, "magnitude"), Arm("random", p, "random"),
            *(Arm(m, p, m) for m in p.baselines)]
    for name in b.variants:
        ours, theirs = variant(p, name)
        arms.append(ours)
        if (theirs.p, theirs.method) != (p, "magnitude"):
            arms.append(theirs)
    return arms


def baseline_of(p: FlexRelParams, name: str) -> str:
    """The arm a variant's FlexRel is compared with (see :func:`sensitivity_arms`)."""
    ours, theirs = variant(p, name)
    return "magnitude" if (theirs.p, theirs.method) == (p, "magnitude") else theirs.label


def sensitivity_claims(frame: pd.DataFrame, p: FlexRelParams, b: BeyondParams, ctx: report.Context) -> list[report.Claim]:
    """Notebook 07's rows: the control; FlexRel − magnitude with the paper's choices as this project reads them
    (the reference); the same under every variant, with whether its verdict differs from the reference's; and
    FlexRel − each of today's criteria. A reader scans these rows for a decided one, so each interval is
    widened for the number of rows (reference, variants, criteria): a verdict here holds family-wise at 95 %."""
    ctl, passed = control(frame, ["flexrel", "magnitude", *p.baselines], ctx)
    family = 1 + len(b.variants) + len(p.baselines)
    quantity = "FlexRel − {} retention accuracy, mean over levels"
    rows = [row(f"FlexRel beats magnitude (this project's reading of the unstated choices: {_reading(p)})",
                quantity.format("magnitude"), difference(frame, "flexrel", "magnitude"), ctx, "FlexRel ≥ magnitude", family=family)]
    rows = report.gate(rows, passed)
    reference = rows[0].verdict
    for name in b.variants:
        other = baseline_of(p, name)
        diff = difference(frame, name, other)
        found = report.gate([row(f"FlexRel beats {VARIANTS[name].get('method', 'magnitude')} with {name}", quantity.format(
            VARIANTS[name].get("method", "magnitude")) + f" ({removed(frame, name):.0%} vs {removed(frame, other):.0%} of "
            "parameters removed)", diff, ctx, "FlexRel ≥ magnitude", family=family)], passed)[0]
        flips = "verdict as the reference's" if found.verdict == reference else f"verdict flips (reference: {reference})"
        rows.append(dataclasses.replace(found, claim=f"{found.claim} — {flips}"))
    for m in p.baselines:
        rows += report.gate([row(f"FlexRel beats {m} (today's criterion; torch-pruning's where it ships one)",
                                 quantity.format(m), difference(frame, "flexrel", m), ctx, family=family)], passed)
    return [ctl, *rows]


def _reading(p: FlexRelParams) -> str:
    return (f"{p.composite}, {p.relevance_target} logit, {p.relevance_images} {p.relevance_split} images, {p.scope} scope, "
            f"{p.normalisation} min-max, partner {p.partner}")


# --- notebook 08: open questions and the papers crossed -------------------------------------------------------------


def second_model(p: FlexRelParams, b: BeyondParams) -> FlexRelParams:
    """Section ``flexrel`` on ``beyond.second_model`` (same data and training; a network without convolutions
    prunes its hidden neurons; baselines it has nothing for are dropped)."""
    no_bn = b.second_model != "vgg16_bn"
    return dataclasses.replace(p, model=b.second_model, prune_linear=p.prune_linear or b.second_model == "lenet300",
                               baselines=[m for m in p.baselines if not (no_bn and m == "bn_scale")])


def delta_arms(p: FlexRelParams) -> list[Arm]:
    """Fig. 4's δ sweep as arms (``delta=<δ>``; δ = 0 and 1 are the partner and relevance runs), with random."""
    return [*(Arm(f"delta={d:g}", p, "flexrel", d) for d in p.deltas), Arm("random", p, "random")]


def open_arms(p: FlexRelParams, b: BeyondParams) -> list[Arm]:
    """Notebook 08's arms on the default network: each shift (magnitude and FlexRel measured on shifted images,
    FlexRel with relevance on shifted images measured on shifted and on clean ones), relevance combined with
    Taylor, and dynamic relevance; with the default FlexRel, magnitude, Taylor, contribution and random."""
    arms = [Arm("flexrel", p, "flexrel", p.delta), Arm("magnitude", p, "magnitude"), Arm("random", p, "random"),
            Arm("contribution", p, "contribution"), Arm("taylor", p, "taylor")]
    for s in b.shifts:
        on_shifted, rel_shifted = dataclasses.replace(p, test_shift=s), dataclasses.replace(p, relevance_shift=s)
        arms += [Arm(f"{s}: magnitude", on_shifted, "magnitude"), Arm(f"{s}: flexrel", on_shifted, "flexrel", p.delta),
                 Arm(f"{s}: flexrel, matched relevance", dataclasses.replace(on_shifted, relevance_shift=s), "flexrel", p.delta),
                 Arm(f"{s} relevance: flexrel on clean", rel_shifted, "flexrel", p.delta)]
    arms += [Arm("flexrel with taylor", dataclasses.replace(p, partner="taylor"), "flexrel", p.delta),
             Arm("dynamic flexrel", dataclasses.replace(p, prune_steps=b.prune_steps), "flexrel", p.delta)]
    return arms


def open_claims(frame: pd.DataFrame, second: pd.DataFrame, p: FlexRelParams, b: BeyondParams,
                ctx: report.Context, ctx2: report.Context) -> list[report.Claim]:
    """Notebook 08's rows: the second architecture's control and δ sweep (:func:`lib.report.fig4_claims`) and its
    FlexRel − magnitude; on the default network: per shift, FlexRel − magnitude on shifted images, matched
    relevance images − clean ones (on shifted images, and the reverse on clean ones); relevance with Taylor
    instead of magnitude; dynamic − one-shot; and the rank paper's contribution on filters against random and
    magnitude. Each block is gated on its own regime's control."""
    q = "{} retention accuracy, mean over levels"
    ctl2, passed2 = control(second, ["delta=0", "delta=1", f"delta={p.delta:g}"], ctx2)
    swept = second[second.arm != "random"]
    fig4 = report.fig4_claims(swept.assign(delta=swept.requested_delta.astype(float)), passed2, ctx2)
    rows = [ctl2, *(dataclasses.replace(c, paper=PAPER, claim=f"second architecture ({b.second_model}): {c.claim}") for c in fig4)]
    rows += report.gate([row(f"second architecture ({b.second_model}): FlexRel (δ = {p.delta:g}) beats magnitude",
                             q.format(f"FlexRel (δ = {p.delta:g}) − magnitude"),
                             difference(second, f"delta={p.delta:g}", "delta=0"), ctx2)], passed2)
    ctl, passed = control(frame, ["flexrel", "magnitude", "contribution", "taylor"], ctx)
    found = []
    for s in b.shifts:
        found += [row(f"{s}: FlexRel beats magnitude on shifted test images", q.format("FlexRel − magnitude"),
                      difference(frame, f"{s}: flexrel", f"{s}: magnitude"), ctx),
                  row(f"{s}: relevance on shifted images beats relevance on clean ones, tested on shifted images",
                      q.format("FlexRel (matched) − FlexRel (clean relevance)"),
                      difference(frame, f"{s}: flexrel, matched relevance", f"{s}: flexrel"), ctx),
                  row(f"{s} (reverse): relevance on shifted images beats relevance on clean ones, tested on clean images",
                      q.format("FlexRel (shifted relevance) − FlexRel"),
                      difference(frame, f"{s} relevance: flexrel on clean", "flexrel"), ctx)]
    found += [row("relevance combined with Taylor beats relevance combined with magnitude",
                  q.format("FlexRel (Taylor) − FlexRel (magnitude)"), difference(frame, "flexrel with taylor", "flexrel"), ctx),
              row("relevance combined with Taylor beats Taylor alone", q.format("FlexRel (Taylor) − Taylor"),
                  difference(frame, "flexrel with taylor", "taylor"), ctx),
              row(f"dynamic relevance ({b.prune_steps} steps, recomputed between them) beats one-shot",
                  q.format("dynamic − one-shot FlexRel") + f" ({removed(frame, 'dynamic flexrel'):.0%} vs "
                  f"{removed(frame, 'flexrel'):.0%} of parameters removed)", difference(frame, "dynamic flexrel", "flexrel"), ctx),
              row("papers crossed: the rank paper's contribution on VGG filters beats random", q.format("contribution − random"),
                  difference(frame, "contribution", "random"), ctx, comparative=False),
              row("papers crossed: the rank paper's contribution on VGG filters beats magnitude",
                  q.format("contribution − magnitude"), difference(frame, "contribution", "magnitude"), ctx)]
    return [*rows, ctl, *report.gate(found, passed)]


#: The papers crossed: FlexRel's LRP relevance (eq. 1 per neuron, true-class logits, every training image) as the
#: score of the rank paper's train-time schedule, in place of the contribution.
RELEVANCE = "relevance"
#: The crossed runs' ``(method, reading)``: the rank schedule scored by relevance, by the contribution, and random.
CROSSED = (("rank", RELEVANCE), ("rank", "paper"), ("random", "-"))


def crossed(r: RankParams, dataset: str, method: str, reading: str, seed: int) -> list[dict]:
    """One train-time run of the rank paper's schedule (cached): scored by relevance (``reading`` =
    :data:`RELEVANCE`) or as :func:`lib.rank.run` scores it."""
    if reading != RELEVANCE:
        return rank.run(r, dataset, method, reading, seed)

    def compute(q: runs.View) -> list[dict]:
        score = lambda model, batches: scores.relevance(model, *(torch.cat(t) for t in zip(*batches)))  # noqa: E731
        return rank.train_time(q, train.device(r.device), dataset, method, RELEVANCE, seed, score)

    where = {**rank.coordinates(r, dataset, method, "-", seed), "reading": RELEVANCE}
    return runs.cached("rank-run", runs.View(r, rank.GRID), where, compute)


def crossed_runs(r: RankParams, dataset: str) -> pd.DataFrame:
    """The rank paper's train-time schedule on ``dataset`` scored by FlexRel's relevance, by the paper's
    contribution, and pruned at random (every seed; runs notebook 04 made are read back)."""
    return pd.DataFrame([x for seed in r.seeds for method, reading in CROSSED for x in crossed(r, dataset, method, reading, seed)])


def crossed_claims(frame: pd.DataFrame, ctx: report.Context) -> list[report.Claim]:
    """The papers crossed on the MLP: relevance-scored train-time pruning against random and against the
    contribution, right after each pruning round and after the last recovery (held-out test accuracy); gated
    on the regime's control (the contribution beats random in the troughs, as in notebook 04)."""
    tr = report.troughs(frame)
    last = frame[(frame.stage == "trained") & (frame.epoch == frame.epoch.max())]
    arm = lambda f, reading: f[f.reading == reading].groupby("seed").test_acc.mean()  # noqa: E731
    ctl = row("the contribution (paper reading) beats random right after pruning (the gate of the crossed rows)",
              "rank − random test accuracy in the troughs, mean over rounds", (arm(tr, "paper") - arm(tr, "-")).dropna(),
              ctx, comparative=False)
    passed = ctl.verdict == "reproduced"
    out = [dataclasses.replace(ctl, paper="control", verdict="passed" if passed else "failed",
                               reason="regime can discriminate" if passed else report.CANNOT_DISCRIMINATE)]
    for other, name in (("-", "random"), ("paper", "the contribution (paper reading)")):
        out.append(row(f"papers crossed: relevance as the score of train-time pruning beats {name} right after pruning",
                       f"relevance − {name} test accuracy in the troughs, mean over rounds",
                       (arm(tr, RELEVANCE) - arm(tr, other)).dropna(), ctx, comparative=other != "-"))
        out.append(row(f"papers crossed: relevance as the score of train-time pruning beats {name} after the last recovery",
                       f"relevance − {name} final test accuracy", (arm(last, RELEVANCE) - arm(last, other)).dropna(), ctx,
                       comparative=other != "-"))
    return [out[0], *report.gate(out[1:], passed)]
