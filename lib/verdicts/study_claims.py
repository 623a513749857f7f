"""Beyond the papers (notebooks 07-09), the verdicts: each finding of :mod:`lib.protocols.studies` as a row
judged by the verdict engine (:mod:`lib.verdicts.rules`): one paired difference per seed, averaged over the
studies' levels (Fig. 4's), its intervals, and the gate of its regime. A reader scans these rows for a decided
one, so each block is one family, Holm-corrected (:func:`lib.verdicts.rules.holm_family`). Every row is a
sensitivity row: none is a claim of the papers, none counts in the headline.

>>> sorted(VARIANTS)[:2]
['composite=EpsilonAlpha2Beta1', 'composite=EpsilonGammaBox']
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..params.flexrel import FlexRelParams
from ..params.rank import CROSSED_READING
from ..params.studies import VARIANTS, StudiesParams, baseline_label
from . import measures, papers, rules
from .rules import Rule

#: The ``paper`` column of every row here: kept apart from the papers' own claims.
PAPER = "Beyond the papers"


def difference(frame: pd.DataFrame, a: str, b: str, value: str = "test_acc") -> pd.Series:
    """Per seed, arm ``a`` minus arm ``b`` of ``value`` averaged over the pruning levels (draws averaged first)."""
    levels = measures.mean_over_levels(frame.assign(method=frame.arm), value=value)
    return measures.compare(levels, a, b, value)


def removed(frame: pd.DataFrame, arm: str) -> float:
    """Mean fraction of parameters an arm removed over its levels and seeds."""
    return float(frame[frame.arm == arm].params_removed.mean())


def control(frame: pd.DataFrame, criteria: list[str], ctx: rules.Context) -> tuple[rules.Claim, bool]:
    """The gate of a study's regime: the mean of ``criteria`` − random, averaged over the study's levels."""
    f = frame.assign(method=frame.arm)
    levels = sorted(set(f.factor[f.factor > 0]))
    return rules.control(
        measures.against_random(f, criteria, levels),
        f"the criteria beat random pruning (the gate of these rows: {', '.join(criteria)})",
        "mean of the criteria − random retention accuracy, mean over levels",
        ctx,
        rules.scanned(measures.pairs_against_random(f, criteria, levels)),
        key=f"{ctx.source} · {ctx.dataset} · {', '.join(criteria)}",
    )


def _gated(rows: list[rules.Claim], ctl: rules.Claim, passed: bool) -> list[rules.Claim]:
    """``rows`` gated by the gate row ``ctl``."""
    return rules.gate(rows, passed, key=ctl.gate, fragile_gate=rules.fragile(ctl))


def row(
    text: str,
    quantity: str,
    values: pd.Series,
    ctx: rules.Context,
    margin: float,
    paper_value: str = "(not in the papers)",
    comparative: bool = True,
) -> rules.Claim:
    """One finding as a sensitivity row: ``values`` (one per seed) against 0, with the noise ``margin`` for
    *no meaningful difference*."""
    rule = Rule(margin=margin, margin_basis=f"noise of the unpruned networks ({margin * 100:.2f} pts)")
    return rules.claim(PAPER, text, paper_value, quantity, values, rule, ctx, primary=False, comparative=comparative)


def sensitivity_claims(
    frame: pd.DataFrame, p: FlexRelParams, b: StudiesParams, margin: float, ctx: rules.Context
) -> list[rules.Claim]:
    """Notebook 07's rows: the gate; FlexRel − magnitude with the paper's choices as this project reads them (the
    reference); per variant, whether the unstated choice changes that comparison — the paired (variant's FlexRel −
    its baseline) − (reference FlexRel − magnitude), judged for equivalence within ``margin``; and FlexRel − each of
    today's criteria. Variants and criteria are each one Holm family."""
    ctl, passed = control(frame, ["flexrel", "magnitude", *p.baselines], ctx)
    quantity = "FlexRel − {} retention accuracy, mean over levels"
    reference = difference(frame, "flexrel", "magnitude")
    rows = [
        row(
            f"FlexRel beats magnitude (this project's reading of the unstated choices: {_reading(p)})",
            quantity.format("magnitude"),
            reference,
            ctx,
            margin,
            "FlexRel ≥ magnitude",
        )
    ]
    changes = []
    for name in b.variants:
        other = baseline_label(p, name)
        diff = (difference(frame, name, other) - reference).dropna()
        changes.append(
            row(
                f"does {name} change FlexRel − {VARIANTS[name].get('method', 'magnitude')}? (above 0: it favours "
                "FlexRel more than the reference reading)",
                f"(FlexRel − {VARIANTS[name].get('method', 'magnitude')}) "
                f"with {name} − the same with the reference reading ({removed(frame, name):.0%} vs "
                f"{removed(frame, other):.0%} of parameters removed)",
                diff,
                ctx,
                margin,
            )
        )
    criteria = [
        row(
            f"FlexRel beats {m} (today's criterion; torch-pruning's where it ships one)",
            quantity.format(m),
            difference(frame, "flexrel", m),
            ctx,
            margin,
        )
        for m in p.baselines
    ]
    return [ctl, *_gated(rows + rules.holm_family(changes) + rules.holm_family(criteria), ctl, passed)]


def _reading(p: FlexRelParams) -> str:
    return (
        f"{p.composite}, {p.relevance_target} logit, {p.relevance_images} {p.relevance_split} images, {p.scope} scope, "
        f"{p.normalisation} min-max, partner {p.partner}"
    )


def open_claims(
    frame: pd.DataFrame,
    second: pd.DataFrame,
    p: FlexRelParams,
    b: StudiesParams,
    margin: float,
    ctx: rules.Context,
    ctx2: rules.Context,
) -> list[rules.Claim]:
    """Notebook 08's rows: the second architecture's gate and δ sweep (:func:`lib.verdicts.papers.fig4_claims`) and
    its FlexRel − magnitude; on the default network: per shift, FlexRel − magnitude on shifted images, matched
    relevance images − clean ones (on shifted images, and the reverse on clean ones); relevance with Taylor instead
    of magnitude; dynamic − one-shot; and the rank paper's contribution on filters against random and magnitude.
    Each block is gated on its own regime's gate and Holm-corrected as one family."""
    q = "{} retention accuracy, mean over levels"
    ctl2, passed2, sweep = _delta_sweep(
        second, p, f"second architecture ({b.second_model})", ["delta=0", "delta=1", f"delta={p.delta:g}"], ctx2
    )
    rows = [ctl2, *sweep]
    rows += _gated(
        [
            row(
                f"second architecture ({b.second_model}): FlexRel (δ = {p.delta:g}) beats magnitude",
                q.format(f"FlexRel (δ = {p.delta:g}) − magnitude"),
                difference(second, f"delta={p.delta:g}", "delta=0"),
                ctx2,
                margin,
            )
        ],
        ctl2,
        passed2,
    )
    ctl, passed = control(frame, ["flexrel", "magnitude", "contribution", "taylor"], ctx)
    found = []
    for s in b.shifts:
        found += [
            row(
                f"{s}: FlexRel beats magnitude on shifted test images",
                q.format("FlexRel − magnitude"),
                difference(frame, f"{s}: flexrel", f"{s}: magnitude"),
                ctx,
                margin,
            ),
            row(
                f"{s}: relevance on shifted images beats relevance on clean ones, tested on shifted images",
                q.format("FlexRel (matched) − FlexRel (clean relevance)"),
                difference(frame, f"{s}: flexrel, matched relevance", f"{s}: flexrel"),
                ctx,
                margin,
            ),
            row(
                f"{s} (reverse): relevance on shifted images beats relevance on clean ones, tested on clean images",
                q.format("FlexRel (shifted relevance) − FlexRel"),
                difference(frame, f"{s} relevance: flexrel on clean", "flexrel"),
                ctx,
                margin,
            ),
        ]
    found += [
        row(
            "relevance combined with Taylor beats relevance combined with magnitude",
            q.format("FlexRel (Taylor) − FlexRel (magnitude)"),
            difference(frame, "flexrel with taylor", "flexrel"),
            ctx,
            margin,
        ),
        row(
            "relevance combined with Taylor beats Taylor alone",
            q.format("FlexRel (Taylor) − Taylor"),
            difference(frame, "flexrel with taylor", "taylor"),
            ctx,
            margin,
        ),
        row(
            f"dynamic relevance ({b.prune_steps} steps, recomputed between them) beats one-shot",
            q.format("dynamic − one-shot FlexRel") + f" ({removed(frame, 'dynamic flexrel'):.0%} vs "
            f"{removed(frame, 'flexrel'):.0%} of parameters removed)",
            difference(frame, "dynamic flexrel", "flexrel"),
            ctx,
            margin,
        ),
        row(
            "papers crossed: the rank paper's contribution on VGG filters beats random",
            q.format("contribution − random"),
            difference(frame, "contribution", "random"),
            ctx,
            margin,
            comparative=False,
        ),
        row(
            "papers crossed: the rank paper's contribution on VGG filters beats magnitude",
            q.format("contribution − magnitude"),
            difference(frame, "contribution", "magnitude"),
            ctx,
            margin,
        ),
    ]
    return [*rows, ctl, *_gated(rules.holm_family(found), ctl, passed)]


def crossed_claims(frame: pd.DataFrame, margin: float, passed: bool, ctx: rules.Context) -> list[rules.Claim]:
    """The papers crossed on the MLP: relevance-scored train-time pruning against random and against the
    contribution, right after each pruning round and after the last recovery (held-out test accuracy); one Holm
    family, gated by notebook 04's gate on the same dataset and schedule (``passed``: random beats anti-ranked
    pruning in the troughs; the contribution beating random would be the rank paper's own primary claim)."""
    tr = measures.troughs(frame)
    last = frame[(frame.stage == "trained") & (frame.epoch == frame.epoch.max())]

    def gap(f: pd.DataFrame, method: str, reading: str) -> pd.Series:
        """Per seed, relevance-scored train-time pruning − the other arm (seeds in both)."""
        return (
            measures.arm_means(f, "rank", CROSSED_READING, "test_acc")
            - measures.arm_means(f, method, reading, "test_acc")
        ).dropna()

    out = []
    for method, reading, name in (("random", "-", "random"), ("rank", "paper", "the contribution (paper reading)")):
        out.append(
            row(
                f"papers crossed: relevance as the score of train-time pruning beats {name} right after pruning",
                f"relevance − {name} test accuracy in the troughs, mean over rounds",
                gap(tr, method, reading),
                ctx,
                margin,
                comparative=method != "random",
            )
        )
        out.append(
            row(
                f"papers crossed: relevance as the score of train-time pruning beats {name} after the last recovery",
                f"relevance − {name} final test accuracy",
                gap(last, method, reading),
                ctx,
                margin,
                comparative=method != "random",
            )
        )
    return rules.gate(rules.holm_family(out), passed, key=papers.gate_key("Rank", ctx.dataset))


def residual_claims(
    frame: pd.DataFrame, recovered: pd.DataFrame, p: FlexRelParams, margin: float, chance: float, ctx: rules.Context
) -> list[rules.Claim]:
    """Notebook 09's rows, on the residual network of section ``p`` (:func:`lib.params.studies.residual`).

    Retention (``frame``, the arms of :func:`lib.protocols.studies.residual_arms`): the gate (magnitude, relevance
    and FlexRel − random, mean over the levels) and the δ sweep as Fig. 4's claims (sign only); then one Holm family
    judged within ``margin``: FlexRel − magnitude, magnitude − relevance (the paper's "relevance alone is
    substantially worse", found on VGG16) and FlexRel − each of today's criteria. Recovery (``recovered``, every
    epoch of :func:`lib.protocols.flexrel.frame` of the recovery runs, with the unpruned rows; its last epoch is
    judged): Fig. 2's recovery gate (:func:`lib.verdicts.papers.fig2_gate`, informative levels above ``chance``) and one
    Holm family, FlexRel − magnitude and magnitude − relevance. Every row is gated on its measurement's gate."""
    net, flex = f"residual network ({p.model} ×{p.width:g})", f"delta={p.delta:g}"
    ctl, passed, sweep = _delta_sweep(frame, p, net, ["magnitude", "relevance", flex], ctx)
    q = "{} retention accuracy, mean over levels"
    kept = rules.holm_family(
        [
            row(
                f"{net}: FlexRel (δ = {p.delta:g}) beats magnitude",
                q.format("FlexRel − magnitude"),
                difference(frame, flex, "magnitude"),
                ctx,
                margin,
                "FlexRel ≥ magnitude (Fig. 2, VGG16)",
            ),
            row(
                f"{net}: relevance alone is worse than magnitude",
                q.format("magnitude − relevance"),
                difference(frame, "magnitude", "relevance"),
                ctx,
                margin,
                "relevance alone substantially worse (Fig. 2, VGG16)",
            ),
            *(
                row(
                    f"{net}: FlexRel (δ = {p.delta:g}) beats {m} (today's criterion)",
                    q.format(f"FlexRel − {m}"),
                    difference(frame, flex, m),
                    ctx,
                    margin,
                )
                for m in p.baselines
            ),
        ]
    )
    last = measures.final_epoch(recovered)
    rctl, rpassed, _ = papers.fig2_gate(last, "recovery", chance, ctx, key=f"{ctx.source}, recovery · {ctx.dataset}")
    last = last.assign(arm=last.method)
    after = "{} accuracy after recovery"
    recovery = rules.holm_family(
        [
            row(
                f"{net}: FlexRel (δ = {p.delta:g}) beats magnitude after recovery",
                after.format("FlexRel − magnitude"),
                difference(last, "flexrel", "magnitude"),
                ctx,
                margin,
                "FlexRel ≥ magnitude (Fig. 2, VGG16)",
            ),
            row(
                f"{net}: relevance alone is worse than magnitude after recovery",
                after.format("magnitude − relevance"),
                difference(last, "magnitude", "relevance"),
                ctx,
                margin,
                "relevance alone substantially worse (Fig. 2, VGG16)",
            ),
        ]
    )
    return [ctl, *sweep, *_gated(kept, ctl, passed), rctl, *_gated(recovery, rctl, rpassed)]


def _delta_sweep(
    frame: pd.DataFrame, p: FlexRelParams, label: str, criteria: list[str], ctx: rules.Context
) -> tuple[rules.Claim, bool, list[rules.Claim]]:
    """A network's δ sweep (arms ``delta=<δ>``, and ``random``): the gate of its regime (``criteria`` − random) and
    Fig. 4's claims on the sweep (:func:`lib.verdicts.papers.fig4_claims`, gated), as rows beyond the papers about
    ``label``."""
    ctl, passed = control(frame, criteria, ctx)
    swept = frame[frame.arm.str.startswith("delta=")]
    fig4 = papers.fig4_claims(
        swept.assign(delta=swept.delta.astype(float)), p.delta, passed, ctx, ctl.gate, rules.fragile(ctl)
    )
    return (
        ctl,
        passed,
        [
            dataclasses.replace(c, paper=PAPER, primary=False, endpoint="", design="", claim=f"{label}: {c.claim}")
            for c in fig4
        ],
    )
