"""The analysis plan of the confirmatory run, as data and as ``docs/analysis-plan.md`` (rendered here; a test checks
that the committed file equals the rendering, and that the families of :mod:`lib.verdicts.papers` mark exactly the
plan's endpoints primary).

The endpoints, their smallest effects of interest and reasons, tests and planned n are
:data:`lib.verdicts.papers.ENDPOINTS`; the **pilot** is the frozen table of per-seed values of the results committed
at :data:`PILOT_COMMIT` (``docs/pilot/``, written once by :func:`freeze`); this module computes each endpoint's power
at the pilot's per-seed sd with statsmodels (:class:`statsmodels.stats.power.TTestPower`: every decision is one side
of a 95 % t interval, a one-sided test at 2.5 %; equivalence as two of them), the n for 80 % power and the minimum
detectable effect, and renders the plan::

    python -m lib.verdicts.plan            # print the plan
    python -m lib.verdicts.plan --write    # write docs/analysis-plan.md
    python -m lib.verdicts.plan --freeze   # (once, on the pilot's results) write docs/pilot/*.csv
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..params import paths
from . import papers, rules
from .papers import ENDPOINTS, Endpoint

PLAN = paths.ROOT / "docs" / "analysis-plan.md"
PILOT = paths.ROOT / "docs" / "pilot"
#: The commit whose committed results are the pilot (unchanged since, up to the plan's commit).
PILOT_COMMIT = "7bdfa94"
#: The pilot's gates: their per-seed statistics are frozen too (shown in the plan, not powered).
GATES = ("FlexRel retention", "FlexRel recovery", "Rank")
#: The accuracy targets of the pilot's Fig. 3 (``flexrel.targets_rel`` of the default profile at the pilot).
PILOT_FIG3_TARGETS = (0.99, 0.95, 0.90)


# --- the pilot --------------------------------------------------------------------------------------------------------


def freeze(results: Path = paths.RESULTS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pilot's per-seed values and margins, from the committed results of notebooks 01-06 judged by the
    families of :mod:`lib.verdicts.papers` as the plan defines them: ``per_seed`` (endpoint, dataset, level, seed,
    value — the levels of a claim at every level, the targets of the reach and the border, the gates) and
    ``margins`` (endpoint, dataset, margin, sesoi). Run once, on the pilot; the tables are committed."""
    from ..params import profiles

    ctx = rules.Context("pilot", "FashionMNIST", "")
    fx, rk = profiles.load("flexrel", "default"), profiles.load("rank", "default")
    one = results / "01_flexrel_accuracy_vs_pruning"
    retention, recovery = pd.read_csv(one / "retention.csv"), pd.read_csv(one / "recovery.csv")
    noise = papers.fig2_margin(retention, fx.test_subset or 10000)
    targets = sorted(set(papers.BORDER_CURVE) | set(fx.targets_rel), reverse=True)
    claims = papers.fig2_claims(retention, recovery, targets, 0.1, noise, ctx)
    times = pd.read_csv(results / "02_flexrel_time_breakdown" / "02_flexrel_time_breakdown.csv")
    claims += papers.fig3_claims(times[times.schedule == "paper"], times[times.schedule == "regime"], True, ctx)
    claims += papers.fig4_claims(
        pd.read_csv(results / "03_flexrel_delta_sweep" / "03_flexrel_delta_sweep.csv"), 0.5, True, ctx
    )
    rank = pd.read_csv(results / "04_rank_random_vs_rank" / "04_rank_random_vs_rank.csv")
    claims += papers.rank_claims(rank, rk.readings, 10000, ctx)
    missing = {d: "no CIFAR offline" for d in ("CIFAR10", "CIFAR100")}
    claims += papers.table1_claims(rank, rk.readings, missing, 10000, ctx)
    claims += papers.vae_claims(pd.read_csv(results / "06_rank_vae" / "06_rank_vae.csv"), ctx)
    table = rules.table(claims)

    rows, margins = [], []

    def add(endpoint: str, dataset: str, level: str, values: pd.Series) -> None:
        rows.extend(
            {"endpoint": endpoint, "dataset": dataset, "level": level, "seed": s, "value": v} for s, v in values.items()
        )

    for r in table.itertuples():
        if r.paper == "control" and any(r.gate == papers.gate_key(g, r.dataset) for g in GATES):
            add("gate", r.dataset, r.gate.split(" · ")[0], rules.values_of(r.per_seed))
        elif r.primary and r.endpoint and r.n > 0:
            values = rules.values_of(r.per_seed)
            labels = rules.level_labels(r.per_seed)
            for label, v in zip(labels, values) if isinstance(values, list) else [("", values)]:
                add(r.endpoint, r.dataset, label, v)
            margins.append({"endpoint": r.endpoint, "dataset": r.dataset, "margin": r.margin, "sesoi": r.sesoi})
    for r in table.itertuples():  # the reach at the other targets, the border's curve, Fig. 3's consequences
        reach = r.claim.startswith("FlexRel removes more parameters") and r.n > 0
        if (reach or (r.endpoint and not r.primary)) and r.n > 0 and not (reach and r.primary):
            add(papers.REACH if reach else r.endpoint, r.dataset, r.level, rules.values_of(r.per_seed))
    every = next(m for m in margins if m["endpoint"] == papers.EVERY)
    margins.append({"endpoint": papers.FIG4, "dataset": every["dataset"], "margin": every["margin"], "sesoi": math.nan})
    margins = [m for m in margins if not (m["endpoint"] == papers.FIG4 and pd.isna(m["margin"]))]
    return pd.DataFrame(rows), pd.DataFrame(margins)


def pilot(folder: Path = PILOT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frozen pilot: its per-seed values and its margins (:func:`freeze`)."""
    return (
        pd.read_csv(folder / "per_seed.csv", dtype={"level": str}, keep_default_na=False, na_values=[]),
        pd.read_csv(folder / "margins.csv"),
    )


# --- power ------------------------------------------------------------------------------------------------------------


def power(effect: float, n: int) -> float:
    """The probability that the 95 % t interval of ``n`` paired values lies wholly beyond a boundary the true mean
    exceeds by ``effect`` standard deviations: a one-sided one-sample t-test at :data:`lib.verdicts.rules.ONE_SIDED`
    (:class:`statsmodels.stats.power.TTestPower`)."""
    from statsmodels.stats.power import TTestPower

    if n is None or n < 2 or math.isnan(effect):
        return math.nan
    return float(TTestPower().power(effect_size=effect, nobs=n, alpha=rules.ONE_SIDED, alternative="larger"))


def seeds_for(effect: float, target: float = papers.TARGET_POWER) -> float:
    """The fewest seeds at which :func:`power` reaches ``target`` (inf where no n does)."""
    from statsmodels.stats.power import TTestPower

    if math.isnan(effect) or effect <= 0:
        return math.inf
    if power(effect, 2) >= target:
        return 2
    n = TTestPower().solve_power(effect_size=effect, alpha=rules.ONE_SIDED, power=target, alternative="larger")
    return float(math.ceil(float(n) - 1e-9))


def detectable(sd: float, n: int | None, target: float = papers.TARGET_POWER) -> float:
    """The distance between the true mean and the decision boundary found with probability ``target`` at ``n``
    seeds of standard deviation ``sd`` (the minimum detectable effect of the one-sided test)."""
    from statsmodels.stats.power import TTestPower

    if n is None or n < 2 or math.isnan(sd):
        return math.nan
    return float(TTestPower().solve_power(nobs=n, alpha=rules.ONE_SIDED, power=target, alternative="larger")) * sd


def _tost(margin: float, sd: float, n: int | None) -> float:
    """TOST's power at a true difference of 0 (both one-sided tests at 2.5 %): at least P + P − 1 with P the power of
    each (the Bonferroni bound)."""
    return max(0.0, 2 * power(margin / sd, n) - 1) if n is not None else math.nan


def assess(e: Endpoint, per_seed: pd.DataFrame, margins: pd.DataFrame) -> dict:
    """An endpoint's design at the pilot: per-seed sd (the largest over its levels), the margin or SESOI the rule
    uses, the effect at which power is computed, the power at the planned and the ``powered`` n, the n for 80 %
    power and the minimum detectable effect at the planned n. For a claim at every level (or at both ends) the power
    is that of its least powered level: an upper bound of the intersection's."""
    values = per_seed[(per_seed.endpoint == e.id) & (per_seed.dataset == e.dataset)]
    if e.kind != "non-inferiority at every level" and e.kind != "direction at both ends":
        values = values[values.level == ""]
    scale = margins[(margins.endpoint == e.id) & (margins.dataset == e.dataset)]
    margin = float(scale.margin.iloc[0]) if len(scale) else math.nan
    sesoi = float(scale.sesoi.iloc[0]) if len(scale) else math.nan
    out = {"margin": margin, "sesoi": sesoi, "pilot_n": int(values.seed.nunique()) if len(values) else 0}
    if not e.runs or values.empty:
        return {
            **out,
            "sd": math.nan,
            "effect": math.nan,
            "power": math.nan,
            "power_powered": math.nan,
            "n80": math.nan,
            "mde": math.nan,
        }
    sds = values.groupby("level").value.std(ddof=1)
    sd = float(sds.max())
    if e.kind in ("non-inferiority at every level", "direction at both ends", "direction", "non-inferiority"):
        effects = margin / sds  # non-inferiority at 0: margin away from −margin; a direction: a lead of one margin
    elif e.kind == "stated size":
        effects = (e.size - sesoi) / sds
    elif e.kind == "threshold":
        sign = 1.0 if e.design > e.needed else -1.0
        effects = sign * (e.design - e.needed) / sds
    elif e.kind == "two-sided":
        effects = None
    else:
        raise ValueError(f"{e.id}: kind {e.kind!r}")
    if effects is None:
        p = _tost(margin, sd, e.n)
        n80 = seeds_for(margin / sd, 1 - (1 - papers.TARGET_POWER) / 2)
        return {
            **out,
            "sd": sd,
            "effect": margin / sd,
            "power": p,
            "power_powered": _tost(margin, sd, e.n_powered),
            "n80": n80,
            "mde": detectable(sd, e.n, 1 - (1 - papers.TARGET_POWER) / 2),
        }
    return {
        **out,
        "sd": sd,
        "effect": float(effects.min()),
        "power": min(power(x, e.n) for x in effects),
        "power_powered": min(power(x, e.n_powered) for x in effects) if e.n_powered else math.nan,
        "n80": max(seeds_for(x) for x in effects),
        "mde": detectable(sd, e.n),
    }


def table(per_seed: pd.DataFrame | None = None, margins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every endpoint of the plan with its design at the pilot (:func:`assess`) and whether the computation finds it
    underpowered (``computed_underpowered``: power at the planned n below 80 %) beside the plan's declaration."""
    if per_seed is None or margins is None:
        per_seed, margins = pilot()
    rows = []
    for e in ENDPOINTS:
        a = assess(e, per_seed, margins)
        rows.append(
            {
                "id": e.id,
                "dataset": e.dataset,
                "paper": e.paper,
                "n": e.n,
                "n_powered": e.n_powered,
                **a,
                "underpowered": e.underpowered,
                "computed_underpowered": bool(a["power"] < papers.TARGET_POWER)
                if not math.isnan(a["power"])
                else False,
            }
        )
    return pd.DataFrame(rows)


# --- the Markdown -----------------------------------------------------------------------------------------------------


def _pts(v: float, unit: str = "pts") -> str:
    return "—" if v is None or math.isnan(v) else f"{v * 100:.2f} {unit}"


def _p(v: float) -> str:
    return "—" if v is None or math.isnan(v) else f"{v:.2f}"


def _n(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return "∞" if math.isinf(v) else f"{int(v)}"


def _unit(e: Endpoint) -> str:
    return "%" if e.id in (papers.VAE, papers.NEGLIGIBLE_ID) else "pts"


def _correlation(per_seed: pd.DataFrame) -> str:
    """Per seed, how closely Fig. 3's savings follow the reach (mean over Fig. 3's targets) at the pilot."""
    levels = {"" if t == papers.PRIMARY_TARGET else f"{t:.0%}" for t in PILOT_FIG3_TARGETS}
    reach = per_seed[(per_seed.endpoint == papers.REACH) & per_seed.level.isin(levels)].groupby("seed").value.mean()
    out = []
    for what in ("time saved", "data saved"):
        saved = per_seed[(per_seed.endpoint == papers.REACH) & (per_seed.level == what)].set_index("seed").value
        both = pd.concat([reach, saved], axis=1, join="inner")
        if len(both) > 2:
            out.append(f"{what} r = {both.corr().iloc[0, 1]:.3f}")
    return ", ".join(out)


def render(per_seed: pd.DataFrame | None = None, margins: pd.DataFrame | None = None) -> str:
    """``docs/analysis-plan.md``: the plan, from :data:`lib.verdicts.papers.ENDPOINTS` and the frozen pilot."""
    if per_seed is None or margins is None:
        per_seed, margins = pilot()
    design = table(per_seed, margins)
    by = {(r.id, r.dataset): r for r in design.itertuples()}
    lines = [
        "# Analysis plan of the confirmatory run",
        "",
        "Rendered by `python -m lib.verdicts.plan --write` from `lib/verdicts/papers.py` (`ENDPOINTS`: the claims, "
        "their endpoints, smallest effects of interest and reasons, tests and planned seeds) and the frozen pilot in "
        "`docs/pilot/`; `tests/test_plan.py` fails if this file differs from the rendering, if the claim families "
        "mark any other row primary, or if a declaration of *underpowered by design* disagrees with the power "
        "computed here. **This plan is committed before any network of the confirmatory run exists**: the run's "
        "seeds are fresh (never trained before), and its results are judged by exactly these endpoints and rules.",
        "",
        "## The design",
        "",
        f"- **Seeds.** FlexRel (notebooks 01-03): {papers.PLANNED_N['FlexRel']} fresh seeds; the rank paper "
        f"(04-05): {papers.PLANNED_N['Rank']} per dataset; the VAE (06): {papers.PLANNED_N['VAE']}. A `powered` GPU "
        f"profile: {papers.POWERED_N['FlexRel']} FlexRel seeds, {papers.POWERED_N['Rank']} rank seeds (its powers "
        "are shown; the VAE has no powered n). The seed is the unit of replication; every quantity is one value per "
        "seed, almost always a paired difference on the same base network and test images.",
        "- **One α.** Every verdict is a statement about the 95 % Student-t interval of the per-seed values: each of "
        "its sides is a one-sided test at 2.5 %, and the equivalence test (TOST) runs at the same 2.5 % per side "
        "(*equivalent* = the 95 % interval inside ±margin). Non-inferiority is the interval's lower side against "
        "−margin (no second, TOST route). The sign-flip interval is shown beside it, never deciding.",
        "- **Smallest effects of interest.** Each comes from the paper's words or numbers, or is called *ad hoc* "
        "where neither gives one; the measured noise (the unpruned networks' seed sd or binomial error, or the seed "
        "sd of magnitude's own reach) is a floor under it, never its value. A claim with a stated size is "
        "*reproduced* only if its interval lies wholly above its SESOI, *smaller than claimed* if wholly below it, "
        "*contradicted* if wholly below 0; no fraction of the stated size stands in for it.",
        "- **Power** at the pilot's per-seed sd (statsmodels' `TTestPower`, one-sided at 2.5 %: the probability "
        "that the deciding side of the 95 % interval clears its boundary) at the effect the design names: the "
        "paper's stated size for a stated-size claim (against its SESOI), the middle of a stated range for a "
        "threshold, one margin for a sign-only claim, no true difference for non-inferiority and equivalence "
        "(TOST: at least 2P − 1). For a claim at every level (or at both ends) it is the power of its least powered "
        "level, an upper bound of the intersection's; the n for 80 % is the largest over its levels. **MDE**: the "
        "distance from the boundary the planned n finds with 80 % power (for TOST: the margin it needs).",
        "- **Underpowered by design.** A primary whose power at the planned n is below 80 % is declared so here, with "
        "its MDE; it is still judged and shown, and the headline counts it apart (`Claim.design`).",
        "",
        "## Primary endpoints",
        "",
        "| endpoint | dataset | claim | per seed | test | SESOI at the pilot | pilot sd (n) | planned n | power | "
        "n for 80 % | power at powered n | MDE at planned n | underpowered by design |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in ENDPOINTS:
        d = by[(e.id, e.dataset)]
        unit = _unit(e)
        if not e.runs:
            lines.append(
                f"| `{e.id}` | {e.dataset} | {e.claim} | {e.quantity} | {e.test} | — | — | {e.n} | not run in the "
                "default profile (no CIFAR offline) | — | — | — | — |"
            )
            continue
        scale = (
            _pts(d.sesoi, unit)
            if e.kind == "stated size"
            else _pts(e.needed, unit)
            if e.kind == "threshold"
            else f"margin ±{_pts(d.margin, unit)}"
        )
        lines.append(
            f"| `{e.id}` | {e.dataset} | {e.claim} | {e.quantity} | {e.test} | {scale} | {_pts(d.sd, unit)} "
            f"({d.pilot_n}) | {e.n} | {_p(d.power)} | {_n(d.n80)} | {_p(d.power_powered)} | {_pts(d.mde, unit)} | "
            f"{'**yes**' if e.underpowered else 'no'} |"
        )
    lines += ["", "## Each endpoint: its smallest effect of interest, and why", ""]
    for e in ENDPOINTS:
        d = by[(e.id, e.dataset)]
        if e.id == papers.TABLE1_ID and e.dataset != "MNIST":
            continue
        head = (
            f"- **`{e.id}`** ({e.paper}, notebook {e.notebook}{'' if e.id == papers.TABLE1_ID else ', ' + e.dataset})"
        )
        if e.id.startswith("rank.fig1") and e.dataset != "FashionMNIST":
            continue
        if e.id.startswith("rank.fig1"):
            head = f"- **`{e.id}`** (Rank, notebook {e.notebook}, FashionMNIST and MNIST)"
        lines.append(
            f"{head}: {e.claim}. SESOI: {e.sesoi}{' — *ad hoc*' if e.ad_hoc else ''}. Why: {e.sesoi_basis} Power at: "
            f"{e.design_basis}." + (f" Shown with it: {e.shown_with}." if e.shown_with else "")
        )
    lines += [
        "",
        "## Claims that count once",
        "",
        "- **Fig. 3's time and data saved are consequences of the reach.** Under the paper's schedule the time and "
        "data each method spends follow from the pruning level it reaches at each target; per seed of the pilot they "
        f"follow FlexRel − magnitude reach (mean over Fig. 3's targets) at {_correlation(per_seed)}. They are shown "
        f"beside the reach (`{papers.REACH}`), marked *shown with the primary, not counted*; the relevance share "
        f"(`{papers.NEGLIGIBLE_ID}`) is a claim of its own and stays primary.",
        "- **The border is a curve.** FlexRel's border of the flat region is judged at every target of "
        f"{', '.join(f'{t:.0%}' for t in papers.BORDER_CURVE)} of the unpruned accuracy that the profile lists "
        "(`flexrel.targets_rel`; the default lists 99, 95 and 90 %: 97 % appears when a profile lists it), each row "
        "worded *on retention at …*; the one at 99 % is the primary (its reason above), the others are shown, never "
        "counted.",
        '- **"At every pruning factor"** is read as the paper words it, *FlexRel ≥ magnitude*: non-inferiority at '
        "each informative level, not superiority at each (which no margin-sized difference could reach at the "
        "deep levels, and which the paper does not claim: its size is in the reach).",
        "",
        "## Multiplicity",
        "",
        "**Holm within each paper**, over that paper's primaries (`lib.verdicts.rules.correct_primaries`, applied by "
        "the report to every primary with a p-value): a decided primary whose Holm-adjusted p is not below 0.05 reads "
        "*inconclusive*, its reason saying so. Each row's p is that of its own pre-specified decision rule "
        "(`rules.decision_p`: the two-sided t-test against its boundary — 0, the threshold, −margin, or the SESOI of a "
        "stated size — and, where the rule has an equivalence route, twice the TOST p; for a claim at every level, "
        "the level rule's), the same whatever verdict the row reaches. Why Holm: the claims of a paper have no "
        "natural order (a fixed sequence would let one failure silence the rest), they share seeds and networks "
        "(Holm holds under any dependence, and is uniformly more powerful than Bonferroni); why within a paper: "
        "each paper's reproduction is read and reported on its own, and the two papers are independent studies. "
        "Families a reader scans for a decided row (notebooks 07-09, Fig. 4's interior δ) stay Holm-corrected as "
        "before, with the same p; a claim at every level corrects its contradictions over its levels.",
        "",
        "## Robustness, shown and never deciding",
        "",
        "- **Leave one seed out** beside every decided verdict and every gate (`Claim.loo`): *decided with any one "
        "seed removed*, or *fragile* with the seeds whose removal changes it — by the row's own rule, its level rule "
        "or its Holm family; a row guarded by a fragile gate says *rests on a fragile gate*. The paper-level Holm "
        "correction is not re-run per seed.",
        "- **Split half** (`lib.verdicts.robustness.split_half`, over the report's claims table): every row judged "
        "on the first half of its seeds, on the second half and on all, from the per-seed values each row carries "
        "(its gate and Holm family applied again; endpoints as chosen on every seed); counted: rows whose halves "
        "agree, differ, or flip between reproduced and contradicted. A primary that flips is explained in the run's "
        "note.",
        "",
        "## The headline",
        "",
        "REPRODUCTION.md's headline counts the primaries in three groups (`lib.verdicts.rules.headline`): "
        "**decided** (reproduced, smaller than claimed, contradicted, matches, exceeds, falls short), **undecided** "
        "(inconclusive, not run, not testable) and **underpowered by design** (the primaries marked **yes** above, "
        "whatever their verdict). Sensitivity rows and the rows shown with a primary are never counted.",
        "",
        "## Gates",
        "",
        "One pre-specified gate statistic per regime, as before (never a claim; a failed gate makes the comparative "
        "claims it guards inconclusive). At the pilot, per seed (pts):",
        "",
        "| gate | dataset | per seed | mean | sd | MDE at planned n |",
        "|---|---|---|---|---|---|",
    ]
    gates = per_seed[per_seed.endpoint == "gate"]
    for (name, dataset), g in gates.groupby(["level", "dataset"], sort=False):
        n = papers.PLANNED_N["FlexRel" if name.startswith("FlexRel") else "Rank"]
        values = ", ".join(f"{v * 100:+.1f}" for v in g.value)
        lines.append(
            f"| {name} | {dataset} | {values} | {g.value.mean() * 100:+.1f} | {g.value.std(ddof=1) * 100:.1f} | "
            f"{_pts(detectable(float(g.value.std(ddof=1)), n))} |"
        )
    lines += [
        "",
        "## The pilot",
        "",
        f"The results committed at `{PILOT_COMMIT}` (unchanged up to this plan's commit): six FlexRel seeds, five "
        "rank seeds per dataset, three VAE seeds, judged with this plan's endpoints and frozen in `docs/pilot/` "
        "(`per_seed.csv`: endpoint, dataset, level, seed, value; `margins.csv`: the margin and SESOI each endpoint's "
        "rule used). The pilot sets the powers above (through its per-seed sds and measured noise floors), never a "
        "smallest effect of interest. It is not confirmatory: its regime was chosen by a pilot that printed the gate "
        "statistic, and its endpoints were read before this plan. The smallest effects of interest were written "
        "from the papers' words and numbers with the pilot's estimates known (issue 32 quotes them); none is set "
        "from them, and none moves when a pilot estimate does.",
        "",
        "## What this plan does not fix",
        "",
        "- Fresh seeds and fresh per-seed training and test subsets, the budget and the `powered` profile are "
        "issue 32's items 2, 6 and 7 (they change runs, not verdicts).",
        "- The variance of the data draw is in no interval until each seed draws its own subsets (item 2).",
        "- Table 1's CIFAR rows need data that is not available offline: *not run* in the default profile.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.verdicts.plan [--write | --freeze]``: print the plan, write it to ``docs/analysis-plan.md``, or
    freeze the pilot from ``results/`` (once)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="write docs/analysis-plan.md")
    parser.add_argument("--freeze", action="store_true", help="write docs/pilot/*.csv from results/ (the pilot, once)")
    args = parser.parse_args(argv)
    if args.freeze:
        per_seed, margins = freeze()
        PILOT.mkdir(parents=True, exist_ok=True)
        per_seed.to_csv(PILOT / "per_seed.csv", index=False)
        margins.to_csv(PILOT / "margins.csv", index=False)
        return 0
    text = render()
    if args.write:
        PLAN.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
