"""Beyond the papers (notebooks 07 and 08), the verdicts: each finding of :mod:`lib.protocols.studies` as a row
judged by the verdict engine (:mod:`lib.verdicts.rules`): one paired difference per seed, averaged over the
levels, its 95 % t interval, and the random gate of the regime.

>>> sorted(VARIANTS)[:2]
['composite=EpsilonAlpha2Beta1', 'composite=EpsilonGammaBox']
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from lib.core import stats
from lib.params.flexrel import FlexRelParams
from lib.params.studies import VARIANTS, StudiesParams
from lib.protocols.crossed import RELEVANCE
from lib.protocols.studies import baseline_of
from lib.verdicts import rules


#: The ``paper`` column of every row here: kept apart from the papers' own claims.
PAPER = "Beyond the papers"


def difference(frame: pd.DataFrame, a: str, b: str, value: str = "test_acc") -> pd.Series:
    """Per seed, arm ``a`` minus arm ``b`` of ``value`` averaged over the pruning levels (draws averaged first)."""
    levels = rules.mean_over_levels(frame.assign(method=frame.arm), value)
    return rules.compare(levels, a, b, value)


def removed(frame: pd.DataFrame, arm: str) -> float:
    """Mean fraction of parameters an arm removed over its levels and seeds."""
    return float(frame[frame.arm == arm].params_removed.mean())


def control(frame: pd.DataFrame, criteria: list[str], ctx: rules.Context) -> tuple[rules.Claim, bool]:
    """The random control on the arms ``criteria`` and ``random`` of ``frame`` (at these levels only)."""
    c = rules.control(frame.assign(method=frame.arm), criteria)
    row = rules.control_claim(c, source=ctx.source, dataset=ctx.dataset, deviation=ctx.deviation)
    return row, c.passed


def row(text: str, quantity: str, values: pd.Series, ctx: rules.Context, paper_value: str = "(not in the papers)",
        comparative: bool = True, family: int = 1) -> rules.Claim:
    """One finding as a verdict row: the claim that ``values`` (one per seed) lie above 0. A row scanned among
    ``family`` rows for a decided one gets its interval widened for the scan (Bonferroni: level
    1 − 0.05 / ``family``), and says so in its quantity."""
    if family > 1:
        quantity += f" (interval widened for {family} rows scanned)"
    e = stats.interval(values, 1 - (1 - stats.LEVEL) / family)
    return rules.claim(PAPER, text, paper_value, quantity, e, "above", comparative=comparative, source=ctx.source,
                        dataset=ctx.dataset, deviation=ctx.deviation)


def sensitivity_claims(frame: pd.DataFrame, p: FlexRelParams, b: StudiesParams, ctx: rules.Context) -> list[rules.Claim]:
    """Notebook 07's rows: the control; FlexRel − magnitude with the paper's choices as this project reads them
    (the reference); the same under every variant, with whether its verdict differs from the reference's; and
    FlexRel − each of today's criteria. A reader scans these rows for a decided one, so each interval is
    widened for the number of rows (reference, variants, criteria): a verdict here holds family-wise at 95 %."""
    ctl, passed = control(frame, ["flexrel", "magnitude", *p.baselines], ctx)
    family = 1 + len(b.variants) + len(p.baselines)
    quantity = "FlexRel − {} retention accuracy, mean over levels"
    rows = [row(f"FlexRel beats magnitude (this project's reading of the unstated choices: {_reading(p)})",
                quantity.format("magnitude"), difference(frame, "flexrel", "magnitude"), ctx, "FlexRel ≥ magnitude", family=family)]
    rows = rules.gate(rows, passed)
    reference = rows[0].verdict
    for name in b.variants:
        other = baseline_of(p, name)
        diff = difference(frame, name, other)
        found = rules.gate([row(f"FlexRel beats {VARIANTS[name].get('method', 'magnitude')} with {name}", quantity.format(
            VARIANTS[name].get("method", "magnitude")) + f" ({removed(frame, name):.0%} vs {removed(frame, other):.0%} of "
            "parameters removed)", diff, ctx, "FlexRel ≥ magnitude", family=family)], passed)[0]
        flips = "verdict as the reference's" if found.verdict == reference else f"verdict flips (reference: {reference})"
        rows.append(dataclasses.replace(found, claim=f"{found.claim} — {flips}"))
    for m in p.baselines:
        rows += rules.gate([row(f"FlexRel beats {m} (today's criterion; torch-pruning's where it ships one)",
                                 quantity.format(m), difference(frame, "flexrel", m), ctx, family=family)], passed)
    return [ctl, *rows]


def _reading(p: FlexRelParams) -> str:
    return (f"{p.composite}, {p.relevance_target} logit, {p.relevance_images} {p.relevance_split} images, {p.scope} scope, "
            f"{p.normalisation} min-max, partner {p.partner}")


def open_claims(frame: pd.DataFrame, second: pd.DataFrame, p: FlexRelParams, b: StudiesParams,
                ctx: rules.Context, ctx2: rules.Context) -> list[rules.Claim]:
    """Notebook 08's rows: the second architecture's control and δ sweep (:func:`lib.verdicts.rules.fig4_claims`) and its
    FlexRel − magnitude; on the default network: per shift, FlexRel − magnitude on shifted images, matched
    relevance images − clean ones (on shifted images, and the reverse on clean ones); relevance with Taylor
    instead of magnitude; dynamic − one-shot; and the rank paper's contribution on filters against random and
    magnitude. Each block is gated on its own regime's control."""
    q = "{} retention accuracy, mean over levels"
    ctl2, passed2 = control(second, ["delta=0", "delta=1", f"delta={p.delta:g}"], ctx2)
    swept = second[second.arm != "random"]
    fig4 = rules.fig4_claims(swept.assign(delta=swept.requested_delta.astype(float)), passed2, ctx2)
    rows = [ctl2, *(dataclasses.replace(c, paper=PAPER, claim=f"second architecture ({b.second_model}): {c.claim}") for c in fig4)]
    rows += rules.gate([row(f"second architecture ({b.second_model}): FlexRel (δ = {p.delta:g}) beats magnitude",
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
    return [*rows, ctl, *rules.gate(found, passed)]


def crossed_claims(frame: pd.DataFrame, ctx: rules.Context) -> list[rules.Claim]:
    """The papers crossed on the MLP: relevance-scored train-time pruning against random and against the
    contribution, right after each pruning round and after the last recovery (held-out test accuracy); gated
    on the regime's control (the contribution beats random in the troughs, as in notebook 04)."""
    tr = rules.troughs(frame)
    last = frame[(frame.stage == "trained") & (frame.epoch == frame.epoch.max())]
    arm = lambda f, reading: f[f.reading == reading].groupby("seed").test_acc.mean()  # noqa: E731
    ctl = row("the contribution (paper reading) beats random right after pruning (the gate of the crossed rows)",
              "rank − random test accuracy in the troughs, mean over rounds", (arm(tr, "paper") - arm(tr, "-")).dropna(),
              ctx, comparative=False)
    passed = ctl.verdict == "reproduced"
    out = [dataclasses.replace(ctl, paper="control", verdict="passed" if passed else "failed",
                               reason="regime can discriminate" if passed else rules.CANNOT_DISCRIMINATE)]
    for other, name in (("-", "random"), ("paper", "the contribution (paper reading)")):
        out.append(row(f"papers crossed: relevance as the score of train-time pruning beats {name} right after pruning",
                       f"relevance − {name} test accuracy in the troughs, mean over rounds",
                       (arm(tr, RELEVANCE) - arm(tr, other)).dropna(), ctx, comparative=other != "-"))
        out.append(row(f"papers crossed: relevance as the score of train-time pruning beats {name} after the last recovery",
                       f"relevance − {name} final test accuracy", (arm(last, RELEVANCE) - arm(last, other)).dropna(), ctx,
                       comparative=other != "-"))
    return [out[0], *rules.gate(out[1:], passed)]
