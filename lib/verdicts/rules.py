"""The verdict engine: every claim of both papers is judged here, once, by one rule.

A claim becomes a **paired difference** with one value per seed (two methods on the same base network and
the same test images, or our measurement against the paper's number), summarised by its mean and a 95 %
Student-t confidence interval (:mod:`lib.core.stats`). The rule compares the *interval*, never the mean, with
the claim's threshold:

- **reproduced** — the whole interval lies on the side the paper claims;
- **contradicted** — the whole interval lies on the other side;
- **inconclusive** — the interval contains the threshold, fewer than two seeds ran, or the regime failed
  its control (see below);
- **not run** — the profile did not run the experiment (e.g. no CIFAR data).

**The gate.** A claim that compares pruning criteria is only evidence if, in the same regime, some
criterion can beat *random* pruning: :func:`control` checks that at least one criterion's retention accuracy
exceeds random's with a 95 % interval above zero at some pruning level. Where it fails, every comparative
claim of that regime is *inconclusive (regime cannot discriminate)*, whatever its interval says.

Each claim family is one function returning :class:`Claim` records; :func:`table` turns them into a tidy
frame of numbers (formatting happens only when Markdown is written, :func:`markdown`).

>>> from lib.core.stats import interval
>>> judge(interval([0.02, 0.03, 0.01, 0.04]), "above")
('reproduced', 'CI above 0')
>>> judge(interval([0.02, -0.03, 0.01, 0.04]), "above")
('inconclusive', 'CI contains 0')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lib.core import stats
from lib.core.stats import Interval

#: The verdicts of a paper's claim.
VERDICTS = ("reproduced", "contradicted", "inconclusive", "not run")
#: Reasons that make a claim inconclusive whatever its interval says.
CANNOT_DISCRIMINATE = "regime cannot discriminate: no criterion beats random on retention"
UNSTABLE = "unstable across seeds"
Side = Literal["above", "below"]


@dataclass(frozen=True)
class Claim:
    """One judged claim: the numbers behind a row of REPRODUCTION.md.

    Attributes
    ----------
    paper, claim, paper_value
        Which paper, the claim in words, and what the paper reports.
    quantity
        What ``estimate`` measures (a paired difference, or our value), with its unit.
    estimate, low, high, n
        Mean over seeds and its 95 % t interval; ``n`` seeds (NaN bounds when ``n < 2``).
    threshold, side
        The rule: the claim holds if the quantity lies ``side`` (``above``/``below``) ``threshold``.
    verdict, reason
        One of :data:`VERDICTS` and why (which side the interval lies on, or the gate).
    comparative
        Whether the claim compares pruning criteria (and is therefore subject to the gate).
    source, dataset, deviation
        Figure/notebook, data, and how our setting differs from the paper's.
    """

    paper: str
    claim: str
    paper_value: str
    quantity: str
    estimate: float
    low: float
    high: float
    n: int
    threshold: float
    side: str
    verdict: str
    reason: str
    comparative: bool
    source: str
    dataset: str
    deviation: str


def judge(e: Interval, side: Side, threshold: float = 0.0) -> tuple[str, str]:
    """``(verdict, reason)`` of a quantity whose claimed side of ``threshold`` is ``side``.

    >>> judge(Interval(-0.05, -0.08, -0.02, 5, 0.02), "above")
    ('contradicted', 'CI below 0')
    >>> judge(Interval(0.4, 0.38, 0.42, 5, 0.02), "above", 0.35)
    ('reproduced', 'CI above 0.35')
    """
    if side not in ("above", "below"):
        raise ValueError(f"side={side!r}; allowed: 'above', 'below'")
    if math.isnan(e.low) or math.isnan(e.high):
        return "inconclusive", f"no interval (n = {e.n}; at least 2 seeds needed)"
    t = f"{threshold:g}"
    if e.low > threshold:
        return ("reproduced" if side == "above" else "contradicted"), f"CI above {t}"
    if e.high < threshold:
        return ("reproduced" if side == "below" else "contradicted"), f"CI below {t}"
    return "inconclusive", f"CI contains {t}"


def claim(paper: str, text: str, paper_value: str, quantity: str, values: Iterable[float] | Interval, side: Side,
          threshold: float = 0.0, *, comparative: bool, source: str, dataset: str, deviation: str = "") -> Claim:
    """Judge per-seed ``values`` (or a ready :class:`Interval`) and build the :class:`Claim`."""
    e = values if isinstance(values, Interval) else stats.interval(values)
    verdict, reason = judge(e, side, threshold)
    return Claim(paper, text, paper_value, quantity, e.mean, e.low, e.high, e.n, threshold, side, verdict, reason,
                 comparative, source, dataset, deviation)


def not_run(paper: str, text: str, paper_value: str, why: str, *, source: str, dataset: str) -> Claim:
    """A claim the profile did not run (e.g. its dataset is missing)."""
    nan = math.nan
    return Claim(paper, text, paper_value, "—", nan, nan, nan, 0, nan, "above", "not run", why, False, source, dataset, why)


# --- the control and the gate -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """Whether a regime can tell criteria apart: the best criterion-minus-random difference on retention.

    Attributes
    ----------
    passed
        Some criterion beats random with a CI above zero at some pruning level.
    method, level, params_removed
        The criterion and pruning level with the highest lower bound, and that level's fraction of
        parameters removed.
    interval
        That paired difference (criterion − random retention accuracy).
    candidates, corrected_low
        How many (criterion, level) pairs the best was chosen from, and that pair's lower bound with the
        interval widened for the choice (Bonferroni: level 1 − 0.05 / candidates). Shown, not used by the
        rule, which the project defines on the plain 95 % interval.
    """

    passed: bool
    method: str
    level: float
    params_removed: float
    interval: Interval
    candidates: int = 1
    corrected_low: float = math.nan


def control(retention: pd.DataFrame, criteria: Sequence[str], random: str = "random", value: str = "test_acc") -> Control:
    """The random control of one regime from its retention frame (columns ``method``, ``factor``, ``seed``,
    ``params_removed`` and ``value``; several random draws of a seed are averaged first).

    The candidate with the highest CI lower bound is reported; the control passes if that bound is above 0.
    """
    found = []
    for method in criteria:
        for factor, g in retention.groupby("factor"):
            if factor == 0:
                continue
            diff = stats.paired(g, value, "method", method, random)
            e = stats.interval(diff)
            if e.n > 0:
                found.append((-math.inf if math.isnan(e.low) else e.low, method, float(factor), float(g.params_removed.mean()), diff, e))
    if not found:
        raise ValueError(f"no paired retention values for criteria {list(criteria)} against {random!r}")
    low, method, factor, removed, diff, e = max(found, key=lambda c: c[0])
    corrected = stats.interval(diff, 1 - (1 - stats.LEVEL) / len(found))
    return Control(bool(low > 0), method, factor, removed, e, len(found), corrected.low)


def control_claim(c: Control, *, source: str, dataset: str, deviation: str = "") -> Claim:
    """The control as a row of the claims table (verdict ``passed`` or ``failed``)."""
    e = c.interval
    return Claim("control", "a criterion beats random pruning on retention at some level (the gate of every "
                 "comparative claim of this regime)", "(not in the paper)",
                 f"{c.method} − random retention accuracy at {c.params_removed:.0%} of parameters removed",
                 e.mean, e.low, e.high, e.n, 0.0, "above", "passed" if c.passed else "failed",
                 ("regime can discriminate" if c.passed else CANNOT_DISCRIMINATE)
                 + f"; best of {c.candidates} criterion × level pairs, lower bound corrected for that choice "
                 f"(Bonferroni): {c.corrected_low * 100:+.1f} pts", False, source, dataset, deviation)


def gate(claims: Iterable[Claim], passed: bool) -> list[Claim]:
    """Apply the gate: if the regime's control failed, every comparative claim becomes inconclusive."""
    if passed:
        return list(claims)
    return [dataclasses.replace(c, verdict="inconclusive", reason=CANNOT_DISCRIMINATE) if c.comparative and
            c.verdict != "not run" else c for c in claims]


def stability(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Two runs of the same claims (:func:`table` frames, e.g. of disjoint seed sets) side by side: a claim
    whose verdicts differ is *inconclusive (unstable across seeds)* in the ``combined`` column."""
    # The same code and parameters emit a family's claims in the same order; their texts may carry numbers of
    # the run (the best δ, the measured share), so a claim is matched by its place within its source and dataset.
    key = ["paper", "source", "dataset", "row"]
    a, b = (t.assign(row=t.groupby(["paper", "source", "dataset"]).cumcount()) for t in (a, b))
    cols = ["estimate", "low", "high", "verdict"]
    both = a[key + ["claim", "quantity"] + cols].merge(b[key + cols], on=key, how="outer", suffixes=("_first", "_second"))
    same = both.verdict_first == both.verdict_second
    both["combined"] = np.where(same, both.verdict_first, "inconclusive")
    both["reason"] = np.where(same, "", UNSTABLE)
    return both


# --- FlexRel families -----------------------------------------------------------------------------------------------


def reach(curves: pd.DataFrame, target_rel: float, value: str = "test_acc") -> pd.DataFrame:
    """Per seed and method, the fraction of parameters removed at which accuracy first falls below
    ``target_rel`` × the seed's unpruned accuracy (:func:`lib.core.stats.crossing`). ``curves``: columns ``seed``, ``method``,
    ``factor``, ``params_removed`` and ``value``, with the unpruned network as ``factor`` 0 of every method;
    random draws of a seed are averaged first."""
    mean = curves.groupby(["seed", "method", "factor"], as_index=False)[[value, "params_removed"]].mean()
    rows = []
    for (seed, method), c in mean.groupby(["seed", "method"]):
        reference = float(c[c.factor == 0][value].iloc[0])
        rows.append({"seed": seed, "method": method, "target_rel": target_rel, "target_acc": target_rel * reference,
                     "params_removed": stats.crossing(c, target_rel * reference, value=value)})
    return pd.DataFrame(rows)


def mean_over_levels(curves: pd.DataFrame, value: str = "test_acc") -> pd.DataFrame:
    """Per seed and method, ``value`` averaged over the pruned levels (factor > 0; random draws averaged per
    level first): one number per curve for an overall paired comparison."""
    pruned = curves[curves.factor > 0].groupby(["seed", "method", "factor"], as_index=False)[value].mean()
    return pruned.groupby(["seed", "method"], as_index=False)[value].mean()


def compare(frame: pd.DataFrame, a: str, b: str, value: str) -> pd.Series:
    """Per-seed ``a − b`` of ``value`` in a frame with one row per (seed, method) (:func:`stats.paired`)."""
    return stats.paired(frame, value, "method", a, b)


# --- rank-paper families -------------------------------------------------------------------------------------------


def troughs(frame: pd.DataFrame) -> pd.DataFrame:
    """Per pruning round of every run: the accuracy right after pruning, before any recovery — on the held-out
    test split (``test_acc`` of the ``pruned`` row) and on the training batches of the first recovery epoch
    (``train_acc``, the paper's train-time trough). Columns: run keys, ``round``, ``removed``, ``test_acc``,
    ``train_acc``."""
    keys = ["dataset", "method", "reading", "seed"]
    pruned = frame[frame.stage == "pruned"][keys + ["round", "epoch", "removed", "test_acc"]]
    trained = frame[frame.stage == "trained"][keys + ["epoch", "train_acc"]]
    first = trained.assign(epoch=trained.epoch - 1)  # the epoch right after the pruning at `epoch`
    return pruned.merge(first, on=keys + ["epoch"], how="left").drop(columns="epoch")


def at_round_end(frame: pd.DataFrame, removed: float) -> pd.DataFrame:
    """Per run, the last trained epoch of the round whose fraction of hidden neurons removed is closest to
    ``removed`` (the end of that round's recovery), with ``epoch`` so an unpruned run can be matched."""
    trained = frame[frame.stage == "trained"]
    picked = []
    for _, g in trained.groupby(["dataset", "method", "reading", "seed"]):
        closest = g.removed.iloc[(g.removed - removed).abs().to_numpy().argmin()]
        picked.append(g[g.removed == closest].iloc[-1])
    return pd.DataFrame(picked).reset_index(drop=True)


def versus_unpruned(frame: pd.DataFrame, dataset: str, reading: str, removed: float, value: str) -> tuple[pd.Series, float]:
    """Per seed, ``value`` of the rank-pruned run at the end of the round closest to ``removed`` minus the
    unpruned run's at the same epoch; and the fraction actually removed there."""
    d = frame[frame.dataset == dataset]
    end = at_round_end(d[(d.method == "rank") & (d.reading == reading)], removed)
    base = d[(d.method == "none") & (d.stage == "trained")].set_index(["seed", "epoch"])[value]
    diff = end.set_index(["seed", "epoch"])[value] - base.reindex(end.set_index(["seed", "epoch"]).index)
    return diff.droplevel("epoch").dropna(), float(end.removed.mean())


# --- the table ------------------------------------------------------------------------------------------------------


def table(claims: Iterable[Claim]) -> pd.DataFrame:
    """The claims as a tidy frame of numbers (one row per claim, :class:`Claim`'s fields as columns)."""
    return pd.DataFrame([dataclasses.asdict(c) for c in claims], columns=[f.name for f in dataclasses.fields(Claim)])


def _number(v: float, percent: bool) -> str:
    if pd.isna(v):
        return "—"
    return f"{v * 100:+.1f}" if percent else f"{v:+.3f}"


def cells(frame: pd.DataFrame, percent: Sequence[bool] | None = None) -> list[dict[str, str]]:
    """Per claim, the text a table shows: ``estimate`` with its CI, ``rule`` and ``verdict`` (with its reason
    unless that only restates the rule). ``percent``: per row, whether the quantity is a fraction shown in
    percentage points (default: every row)."""
    percent = [True] * len(frame) if percent is None else list(percent)
    out = []
    for pct, r in zip(percent, frame.itertuples()):
        unit = " pts" if pct else ""
        if pd.isna(r.estimate):
            est = "—"
        elif pd.isna(r.low):
            est = f"{_number(r.estimate, pct)}{unit} (no CI)"
        else:
            est = f"{_number(r.estimate, pct)}{unit} [{_number(r.low, pct)}, {_number(r.high, pct)}]"
        rule = "—" if pd.isna(r.threshold) else f"CI {r.side} {_number(r.threshold, pct)}{unit}"
        reason = f" ({r.reason})" if r.reason and not r.reason.startswith("CI ") else ""
        out.append({"estimate": est, "rule": rule, "verdict": r.verdict, "reason": reason})
    return out


def markdown(frame: pd.DataFrame, percent: Sequence[bool] | None = None) -> str:
    """The claims frame as a Markdown table: estimate with its CI, rule and verdict (see :func:`cells`)."""
    lines = ["| paper | claim | paper value | ours: quantity | estimate [95 % CI] | n | rule | verdict | source |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c, r in zip(cells(frame, percent), frame.itertuples()):
        lines.append(f"| {r.paper} | {r.claim} | {r.paper_value} | {r.quantity} | {c['estimate']} | {r.n} | {c['rule']} "
                     f"| **{r.verdict}**{c['reason']} | {r.source} · {r.dataset} |")
    return "\n".join(lines)


# --- the claim families, one function per figure ---------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where a family's claims come from: source figure, dataset and the deviation from the paper's setup."""

    source: str
    dataset: str
    deviation: str


def _exact(value: float) -> Interval:
    """A deterministic quantity (no seeds): its interval is the point."""
    return Interval(value, value, value, 1, 0.0)


def fig2_claims(retention: pd.DataFrame, recovery: pd.DataFrame, targets_rel: Sequence[float], ctx: Context,
                border: float = 0.99) -> list[Claim]:
    """FlexRel Fig. 2 from the retention and recovery frames (``seed``, ``method``, ``factor``,
    ``params_removed``, ``test_acc``; unpruned = factor 0): the control, the method orderings (mean over
    levels, paired per seed) and how many parameters each method removes before falling below a target."""
    methods = set(retention.method)
    criteria = [m for m in ("magnitude", "magnitude_bn", "relevance", "flexrel") if m in methods]
    ctl = control(retention, criteria)
    out = [control_claim(ctl, source=ctx.source, dataset=ctx.dataset, deviation=ctx.deviation)]
    kw = dict(comparative=True, source=ctx.source, dataset=ctx.dataset, deviation=ctx.deviation)
    for name, frame in (("retention", retention), ("recovery", recovery)):
        levels = mean_over_levels(frame)
        if {"magnitude", "relevance"} <= methods:
            out.append(claim("FlexRel", f"relevance alone substantially worse than magnitude ({name})", "substantially lower",
                             f"magnitude − relevance {name} accuracy, mean over pruning levels",
                             compare(levels, "magnitude", "relevance", "test_acc"), "above", **kw))
        for base in ("magnitude", "magnitude_bn"):
            if {"flexrel", base} <= methods:
                variant = "" if base == "magnitude" else " (BatchNorm-folded magnitude, our variant)"
                out.append(claim("FlexRel", f"FlexRel beats magnitude at every pruning factor ({name}){variant}",
                                 "FlexRel ≥ magnitude ≥ relevance", f"FlexRel − {base} {name} accuracy, mean over pruning levels",
                                 compare(levels, "flexrel", base, "test_acc"), "above", **kw))
    if {"flexrel", "magnitude"} <= methods:
        for t in targets_rel:
            r = reach(retention, t)
            diff = compare(r, "flexrel", "magnitude", "params_removed")
            if t == border:
                text, value = "FlexRel moves the border of the flat region to 30-50 % (border: last point keeping ≥ 99 % of unpruned accuracy)", "FlexRel border 0.3-0.5"
            else:
                text, value = (f"FlexRel removes more parameters than magnitude before accuracy falls below {t:.0%} of "
                               "unpruned (paper: 70 % target, FlexRel > 60 % vs magnitude ≈ 35 %; 0.5 target, 70 % vs 45 %)",
                               "+25 to +30 points of pruning")
            out.append(claim("FlexRel", text, value, "FlexRel − magnitude fraction of parameters removed at the target (retention)",
                             diff, "above", **kw))
    return gate(out, ctl.passed)


def fig3_claims(times: pd.DataFrame, modelled_share: float, measured_share: float, passed: bool, ctx: Context) -> list[Claim]:
    """FlexRel Fig. 3 from :func:`lib.protocols.split_learning.time_to_target`'s frame (per seed, method and target): time and
    data saved by FlexRel over magnitude (per seed, averaged over targets), and the relevance share."""
    kw = dict(source=ctx.source, dataset=ctx.dataset, deviation=ctx.deviation)
    out = [claim("FlexRel", f"relevance computation time almost negligible (measured on this machine: {measured_share:.1%} "
                 "of one pre-training epoch)", "almost negligible", "modelled relevance share of FlexRel's learning time",
                 _exact(modelled_share), "below", 0.05, comparative=False, **kw)]
    wide = times.pivot_table(index=["seed", "target_rel"], columns="method", values=["total_s", "bytes"])
    if {"flexrel", "magnitude"} <= set(times.method):
        saved_t = (1 - wide["total_s"]["flexrel"] / wide["total_s"]["magnitude"]).groupby("seed").mean()
        saved_b = (1 - wide["bytes"]["flexrel"] / wide["bytes"]["magnitude"]).groupby("seed").mean()
        out.append(claim("FlexRel", "FlexRel reaches a target in substantially less learning time than magnitude",
                         "substantially shorter", "time saved by FlexRel over magnitude, mean over targets", saved_t,
                         "above", comparative=True, **kw))
        out.append(claim("FlexRel", "less data transmitted: over 35 % bandwidth saved", "> 35 %",
                         "data saved by FlexRel over magnitude, mean over targets", saved_b, "above", 0.35, comparative=True, **kw))
    return gate(out, passed)


def fig4_claims(delta_retention: pd.DataFrame, passed: bool, ctx: Context) -> list[Claim]:
    """FlexRel Fig. 4 from retention at several δ (column ``delta``; 0 = magnitude, 1 = relevance): per
    pruning factor, the interior δ with the best mean against the better end. The interior δ is chosen on
    the same data, so its interval is widened for the choice (Bonferroni: level 1 − 0.05 / #interior δ)."""
    out = []
    for factor, g in delta_retention[delta_retention.factor > 0].groupby("factor"):
        inner = sorted(d for d in set(g.delta) if 0 < d < 1)
        ends = [d for d in (0.0, 1.0) if d in set(g.delta)]
        if not inner or not ends:
            continue
        means = g.groupby("delta").test_acc.mean()
        best, end = max(inner, key=lambda d: means[d]), max(ends, key=lambda d: means[d])
        diff = stats.paired(g, "test_acc", "delta", best, end)
        e = stats.interval(diff, 1 - (1 - stats.LEVEL) / len(inner))
        out.append(claim("FlexRel", f"the best δ is intermediate (factor {factor:g}: {float(g.params_removed.mean()):.0%} of "
                         f"parameters removed; best interior δ = {best:g}, better end δ = {end:g})", "intermediate, factor-dependent",
                         f"retention accuracy at δ = {best:g} − at δ = {end:g}", e, "above", comparative=True,
                         source=ctx.source, dataset=ctx.dataset, deviation=ctx.deviation))
    return gate(out, passed)


def rank_claims(frame: pd.DataFrame, readings: Sequence[str], ctx: Context, margin: float = 0.01) -> list[Claim]:
    """Rank paper Fig. 1 from notebook 04's frame, per dataset: the control (rank beats random in the troughs
    on held-out test accuracy, either reading), rank vs random and vs anti-ranked in the troughs and after
    the last recovery, and near-perfect recovery (non-inferiority within ``margin`` of the unpruned run) at
    ≈ 40 % and ≈ 70 % removed — on train-time accuracy (the paper's measure) and on test accuracy."""
    out: list[Claim] = []
    measures = {"train_acc": "train-time", "test_acc": "test"}
    for dataset, d in frame.groupby("dataset"):
        kw = dict(source=ctx.source, dataset=dataset, deviation=ctx.deviation)
        tr = troughs(d)
        last = d[(d.stage == "trained") & (d.epoch == d.epoch.max())]
        ctl = max((stats.interval(stats.paired(tr[tr.reading.isin([r, "-"])], "test_acc", "method", "rank", "random",
                                               ["seed", "round"]).groupby("seed").mean()) for r in readings),
                  key=lambda e: -math.inf if math.isnan(e.low) else e.low)
        passed = bool(ctl.low > 0)
        rows = [Claim("control", "rank beats random in the troughs on held-out test accuracy (either reading; the gate)",
                      "(not in the paper)", "rank − random test accuracy right after pruning, mean over rounds",
                      ctl.mean, ctl.low, ctl.high, ctl.n, 0.0, "above", "passed" if passed else "failed",
                      "regime can discriminate" if passed else CANNOT_DISCRIMINATE, False, **kw)]
        for reading in readings:
            arm = lambda f, m: f[(f.method == m) & (f.reading == (reading if m in ("rank", "worst") else "-"))]  # noqa: E731
            for value, label in measures.items():
                for other, name in (("random", "random"), ("worst", "anti-ranked (the code's 'random')")):
                    a, b = arm(tr, "rank"), arm(tr, other)
                    if len(a) and len(b):
                        diff = (a.groupby("seed")[value].mean() - b.groupby("seed")[value].mean()).dropna()
                        rows.append(claim("Rank", f"rank-based beats {name} pruning right after each pruning round ({reading} reading)",
                                          "rank above", f"rank − {other} {label} accuracy in the troughs, mean over rounds",
                                          diff, "above", comparative=False, **kw))
                    a, b = arm(last, "rank"), arm(last, other)
                    if len(a) and len(b):
                        diff = (a.groupby("seed")[value].mean() - b.groupby("seed")[value].mean()).dropna()
                        rows.append(claim("Rank", f"rank-based beats {name} pruning after the last recovery ({reading} reading)",
                                          "rank above", f"rank − {other} final {label} accuracy", diff, "above",
                                          comparative=True, **kw))
                for target, text in ((0.7, "near-perfect recovery up to ≈ 70 % of neurons removed"),
                                     (0.4, "≈ 40 % of neurons pruned without accuracy impact")):
                    diff, removed = versus_unpruned(d, dataset, reading, target, value)
                    rows.append(claim("Rank", f"{text} ({reading} reading; {removed:.0%} removed)", f"≈ {target:.0%}",
                                      f"rank − unpruned {label} accuracy at the end of that round's recovery", diff,
                                      "above", -margin, comparative=False, **kw))
        out += gate(rows, passed)
    return out


def table1_claims(frame: pd.DataFrame, paper: dict[str, tuple[float, float]], readings: Sequence[str], missing: dict[str, str],
                  ctx: Context, margin: float = 0.01) -> list[Claim]:
    """Rank paper Table 1: per dataset with a paper value ``(accuracy, fraction removed)``, our rank-pruned
    train-time accuracy at the end of the round closest to that fraction minus the paper's accuracy, judged
    by the same non-inferiority rule as the recovery claims (CI above −``margin``). ``missing``: datasets
    not run, with the reason."""
    out = []
    for dataset, (acc, removed) in paper.items():
        text = f"Table 1: {dataset} train-time accuracy {acc:.4f} at {removed:.0%} of neurons pruned"
        if dataset in missing:
            out.append(not_run("Rank", text, f"{acc:.4f} @ {removed:.0%}", missing[dataset], source=ctx.source, dataset=dataset))
            continue
        d = frame[frame.dataset == dataset]
        for reading in readings:
            end = at_round_end(d[(d.method == "rank") & (d.reading == reading)], removed)
            out.append(claim("Rank", f"{text} ({reading} reading; ours at {end.removed.mean():.0%})", f"{acc:.4f} @ {removed:.0%}",
                             "our train-time accuracy − the paper's", end.groupby("seed").train_acc.mean() - acc, "above",
                             -margin, comparative=False, source=ctx.source, dataset=dataset, deviation=ctx.deviation))
    return out


def vae_claims(frame: pd.DataFrame, ctx: Context, tolerance: float = 0.02) -> list[Claim]:
    """Rank paper Fig. 2 from notebook 06's frame (columns ``kind``, ``seed``, ``epoch``, ``removed``,
    ``params``, ``test_loss``): "≈ 30 % of neurons pruned with little or no loss" as the per-seed relative
    change of the final held-out loss, pruned vs unpruned (same seed, same epochs), judged against
    ``tolerance`` (CI below it: reproduced). The pruned size and the change against a network of the pruned
    size trained from scratch are stated in the claim's text."""
    end = frame.sort_values("epoch").groupby(["kind", "seed"]).last()
    loss = end.test_loss.unstack("kind")
    removed, params = end.removed.unstack("kind")["pruned"], end.params.unstack("kind")
    vs_scratch = float((loss["pruned"] / loss["scratch"] - 1).mean())
    text = (f"VAE: ≈ 30 % of neurons pruned with little or no loss ({removed.mean():.0%} removed, "
            f"{params['unpruned'].mean():,.0f} → {params['pruned'].mean():,.0f} parameters; against a network of the pruned "
            f"size trained from scratch: {vs_scratch:+.1%} loss, mean over seeds)")
    return [claim("Rank", text, "≥ 30 % pruned, little-to-no impact", "relative change of held-out loss, pruned vs unpruned",
                  loss["pruned"] / loss["unpruned"] - 1, "below", tolerance, comparative=False, source=ctx.source,
                  dataset=ctx.dataset, deviation=ctx.deviation)]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lib.verdicts.rules FIRST.csv SECOND.csv``: two claims tables (``results/99_reproduction_report/claims.csv``
    of two runs, e.g. with disjoint seeds) side by side as Markdown, with the verdicts that differ marked unstable."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args(argv)
    both = stability(pd.read_csv(args.first), pd.read_csv(args.second))
    cols = ["paper", "dataset", "claim", "quantity", "estimate_first", "low_first", "high_first", "verdict_first",
            "estimate_second", "low_second", "high_second", "verdict_second", "combined", "reason"]
    print(both[cols].to_markdown(index=False, floatfmt="+.3f"))
    print(f"\n{int((both.reason == UNSTABLE).sum())} of {len(both)} rows unstable across the two runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
