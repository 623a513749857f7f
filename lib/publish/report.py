"""REPRODUCTION.md: its prose is a Jinja2 template (``templates/REPRODUCTION.md.j2``), filled by notebook 99 with
one :func:`context`: the claims the notebooks judged, the parameters, the machine, the sizing table and the record of
the cold run. Every Markdown table and paragraph the report builds from data is rendered here."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from ..params import paths, profiles
from ..scale import jobs, sizing
from ..store import machine, runs
from ..verdicts import measures, papers, robustness, rules
from . import plotting, tables

TEMPLATES = Path(__file__).parent / "templates"


def tally(counts: dict[str, int]) -> str:
    """``{"reproduced": 3, "inconclusive": 1}`` → ``"inconclusive: 1, reproduced: 3"``."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def render(context: dict[str, Any], template: str = "REPRODUCTION.md.j2") -> str:
    """The report, ``template`` filled with ``context`` (an undefined name is an error, not an empty string)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["tally"] = tally
    return env.get_template(template).render(**context)


def cold_run(path: Path, epoch_seconds: float) -> dict[str, Any] | None:
    """A cold run's record as the report shows it, or ``None`` where there is none. The record (``docs/cold-run.csv``)
    holds, per stage, the wall time and peak memory a fresh checkout's ``dvc repro`` from an empty run store wrote
    (``results/<stage>/resources.json``), with the run's commit, profile, start, end, total and machine; every time
    is shown beside ``epoch_seconds``, one training epoch of the default network measured in the same run."""
    if not path.exists():
        return None
    stages = pd.read_csv(path)
    run = stages.iloc[0]
    shown = pd.DataFrame(
        {
            "stage": stages.stage,
            "wall time": stages.wall_s.map(duration),
            "in default epochs": (stages.wall_s / epoch_seconds).round(1),
            "peak memory [MiB]": stages.peak_rss_mib,
        }
    )
    return {
        **{k: run[k] for k in ("profile", "commit", "started", "ended", "cpu", "cores", "gpu")},
        "wall": duration(run.dvc_repro_wall_s),
        "epochs": f"{run.dvc_repro_wall_s / epoch_seconds:,.0f}",
        "epoch": duration(epoch_seconds),
        "table": shown.to_markdown(index=False),
    }


def duration(seconds: float) -> str:
    """A time in the unit that reads best: µs, ms, s, min, h, or days.

    >>> [duration(s) for s in (2.43e-05, 0.1685, 4.7, 259.0, 1551.6, 45_000.0, 1.19e9, float("nan"))]
    ['24.3 µs', '168 ms', '4.7 s', '4.32 min', '25.9 min', '12.5 h', '13,773 d', '—']
    """
    if pd.isna(seconds):
        return "—"
    for unit, size, limit in (
        ("µs", 1e-6, 1e-3),
        ("ms", 1e-3, 1),
        ("s", 1, 60),
        ("min", 60, 3600),
        ("h", 3600, 48 * 3600),
    ):
        if seconds < limit:
            return f"{seconds / size:.3g} {unit}"
    days = seconds / 86400
    return f"{days:,.0f} d" if days >= 100 else f"{days:.3g} d"


def phase_markdown(phases: pd.DataFrame, epoch_seconds: float) -> str:
    """:func:`lib.scale.sizing.phase_table` as REPRODUCTION.md shows it, every time beside ``epoch_seconds`` (one
    training epoch of the default network, measured in the same run). Without a stored run (a checkout without the
    run store that computed them) it says so instead of printing zeros."""
    if not phases.stored.sum():
        return (
            f"None of the profile's {phases.runs.sum():,} runs is stored in the checkout that wrote this report, and "
            "only the run store that computed them knows their times: the stage times of the last cold run are above."
        )
    lines = [
        "| phase | runs | stored | computed (summed over runs) | in default epochs | per run (median) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.Index} | {r.runs:,} | {r.stored:,} | {duration(r.computed_s)} | {r.computed_s / epoch_seconds:,.1f} | "
        f"{duration(r.median_s)} |"
        for r in phases.itertuples()
    ]
    total = phases.computed_s.sum()
    lines.append(
        f"| **all** | **{phases.runs.sum():,}** | **{phases.stored.sum():,}** | **{duration(total)}** | "
        f"**{total / epoch_seconds:,.1f}** | |"
    )
    return "\n".join(lines)


def sizing_markdown(sizes: pd.DataFrame, reference: str = "default", gpu_tflops: float = sizing.GPU_TFLOPS) -> str:
    """:func:`lib.scale.sizing.table` as README and REPRODUCTION.md show it: one row per profile and kind of run, then
    its total."""
    lines = [
        "| profile | run | stages | runs | measured here (per run) | estimated, this CPU | estimated, GPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for profile, group in sizes.groupby("profile", sort=False):
        lines += [
            f"| {profile} | {r.kind} | {r.stages} | {r.runs:,} | {duration(r.measured_s)} | "
            f"{duration(r.cpu_hours * 3600)} | {duration(r.gpu_hours * 3600)} |"
            for r in group.itertuples()
        ]
        lines.append(
            f"| **{profile}** | **all** | | **{group.runs.sum():,}** | | "
            f"**{duration(group.cpu_hours.sum(min_count=len(group)) * 3600)}** | "
            f"**{duration(group.gpu_hours.sum() * 3600)}** |"
        )
    return "\n".join(
        lines
        + [
            "",
            f"Measured: median computation time of one stored run here. Estimated: the profile's "
            f"work (forward-pass MACs × images passed, `lib.scale.sizing`) at the throughput the `{reference}` "
            f"profile reached here on each kind of run (FlexRel's: its base networks' training; fixed "
            "per-run costs are left out, so short runs take longer than estimated), or at an assumed GPU sustaining "
            f"{gpu_tflops:g} TFLOP/s (an assumption, not a measurement; at 32×32 and for the small MLPs of `rank-run` "
            "a GPU stays far below it, so those GPU figures are lower bounds). A run two stages list is "
            "counted under the first.",
        ]
    )


def _float_identity(m: dict) -> list[str]:
    """A paragraph naming what the run's float results depend on besides seeds and profile (a record made before
    :func:`lib.store.machine.cpu_identity` existed has none)."""
    identity = m.get("float_identity")
    if not identity:
        return []
    named = ", ".join(f"{k} {v}" for k, v in identity.items())
    return [
        f"The numbers are bit-identical only on this processor, with the thread count per run it used: {named}. "
        "Any of these, or the thread count, may change float rounding, and rounding grows through training: another "
        "machine, even of the same CPU model, is in effect another draw of every network.",
        "",
    ]


def compute_section(records: dict[str, dict], epoch_seconds: float, epoch_images: int, network: str) -> list[str]:
    """The compute section of REPRODUCTION.md: the machine and versions the stages ran on, each stage's wall time and
    peak memory, and the measured training throughput (``epoch_seconds``: the mean pre-training epoch of the base
    networks, ``epoch_images`` images each)."""
    machines = [r["machine"] for r in records.values() if r]
    if not machines:
        return ["## Compute", "", "No stage has a resource record (run the stages through `dvc repro`).", ""]
    m = machines[-1]
    versions = ", ".join(f"{k} {v}" for k, v in {"python": m["python"], **m["versions"]}.items())
    lines = [
        "## Compute",
        "",
        f"Measured on this run's machine: {m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), "
        f"{m['memory_gib']} GiB memory, GPU: {m['gpu'] or 'none'}; {versions}. Another machine gives other times "
        "(these differ 2× from one to the next).",
        "",
        *_float_identity(m),
        "| stage | wall time [s] | peak memory [MiB] |",
        "|---|---|---|",
    ]
    for stage, r in records.items():
        lines.append(f"| {stage} | {r.get('seconds', '—')} | {r.get('peak_rss_mib', '—')} |")
    lines += [
        "",
        f"Wall time is the stage's last run (stages that found their runs stored are faster than a cold run); "
        f"total {sum(r.get('seconds', 0) for r in records.values()):.0f} s.",
        f"Training throughput: one pre-training epoch of {network} over {epoch_images:,} images took "
        f"{epoch_seconds:.1f} s "
        f"(mean over the base networks' epochs), {epoch_images / epoch_seconds:,.0f} images/s. `make bench` measures "
        "training against the machine's attainable matrix-multiply rate and pruned networks' speed against their "
        "MACs (`benchmarks/results.md`).",
        "",
    ]
    return lines


def judged_stages(root: Path = paths.ROOT) -> tuple[list[str], list[str]]:
    """The stages whose notebooks judge claims (``results/<stage>/claims.csv`` among their outputs, in dvc.yaml's
    order): the papers' figures, and the studies beyond them (the stages that track section ``studies``). Study 2
    (the stage that tracks section ``schedule``) is neither: its claims are a family of their own, judged by its plan
    addendum, and never enter study 1's Holm families."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    judged = {
        name: "studies" in stage.get("params", [])
        for name, stage in stages.items()
        if f"results/{name}/claims.csv" in [o if isinstance(o, str) else next(iter(o)) for o in stage.get("outs", [])]
        and name != "99_reproduction_report"
        and "schedule" not in stage.get("params", [])
    }
    return [n for n, beyond in judged.items() if not beyond], [n for n, beyond in judged.items() if beyond]


def judged(results: Path = paths.RESULTS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claims the judged stages (:func:`judged_stages`) wrote under ``results``, each row with its ``stage``: the
    papers' corrected as the plan says (Holm within each paper over its primaries; a row guarded by a fragile gate
    says so), and the studies' as they judged them."""
    papers_, studies = judged_stages()
    read = lambda names: pd.concat(  # noqa: E731
        [pd.read_csv(results / n / "claims.csv").assign(stage=n) for n in names], ignore_index=True
    )
    return rules.note_fragile_gates(rules.correct_primaries(read(papers_))), read(studies)


def split_half(table: pd.DataFrame, beyond: pd.DataFrame) -> pd.DataFrame:
    """Every row with per-seed values, the papers' and the studies', judged on each half of its seeds
    (:func:`lib.verdicts.robustness.split_half`; Holm as in the report), with its ``stage``."""
    return robustness.split_half(pd.concat([table, beyond], ignore_index=True), rules.correct_primaries)


def context(profile: str, results: Path = paths.RESULTS) -> dict[str, Any]:
    """Everything REPRODUCTION.md shows for ``profile``, from the judged stages' committed outputs under ``results``:
    the claims corrected as the plan says (Holm within each paper over its primaries, fragile gates noted), the
    headline counts, each table as Markdown, the split-half check, the compute and sizing sections. The frames
    notebook 99 writes beside it are under ``frames`` (:func:`save`), its metrics under ``metrics``."""
    fx, sp, rk, vp = (profiles.load(s, profile) for s in ("flexrel", "split_learning", "rank", "vae"))
    papers_, studies = judged_stages()
    table, beyond = judged(results)
    claims, controls = table[table.paper != "control"], table[table.paper == "control"]
    is_primary = claims.primary.astype(bool)  # the plan's endpoints (docs/analysis-plan.md): the headline counts them
    shown_with = ~is_primary & (claims.endpoint.fillna("") != "")  # a primary's consequence or curve point
    split = split_half(table, beyond)  # shown, never deciding: each half of the seeds
    split_rows = split[split.primary.fillna(False).astype(bool) | (split.paper == "control")]
    sizes = sizing.table(list(profiles.PROFILES))
    base = json.loads((results / "01_flexrel_accuracy_vs_pruning" / "metrics.json").read_text())
    measured = json.loads((results / "02_flexrel_time_breakdown" / "metrics.json").read_text())["measured"]
    epoch = measured["unpruned_epoch_s"]
    headline = rules.headline(claims)  # decided, undecided, and underpowered by design (counted apart)
    sensitivity_counts = claims[~is_primary & ~shown_with].verdict.value_counts().to_dict()
    beyond_counts = beyond[beyond.paper != "control"].verdict.value_counts().to_dict()
    workers, threads, _ = jobs.local_workers()
    return {
        "profile": profile,
        "commit": plotting.git_commit(),
        "fx": fx,
        "rk": rk,
        "vp": vp,
        "sp": sp,
        "studies_seeds": profiles.load("studies", profile).seeds,
        "workers": workers,
        "threads": threads,
        "base": base,
        "cpu": machine.cpu_name(),
        "params_hash": runs.config_hash({"flexrel": fx, "split_learning": sp, "rank": rk, "vae": vp}),
        "headline": headline,
        "sensitivity_counts": sensitivity_counts,
        "beyond_counts": beyond_counts,
        "controls": list(controls.itertuples()),
        "floor_share": measures.FLOOR_SHARE,
        "tables": {
            "controls": tables.markdown(controls),
            "primary": tables.markdown(claims[is_primary | shown_with]),
            "flexrel": tables.markdown(claims[(claims.paper == "FlexRel") & ~is_primary & ~shown_with]),
            "rank": tables.markdown(claims[(claims.paper == "Rank") & ~is_primary & ~shown_with]),
            "beyond": tables.markdown(beyond),
        },
        "compute": "\n".join(
            compute_section(
                machine.load(results, ["00_data", *papers_, *studies]),
                epoch,
                measured["epoch_images"],
                f"{fx.model} ×{fx.width}",
            )
        ),
        "sizing": sizing_markdown(sizes),
        "epoch": duration(epoch),
        "phases": phase_markdown(sizing.phase_table(profile), epoch),
        "cold": cold_run(paths.ROOT / "docs" / "cold-run.csv", epoch),
        "split_half": {
            "counts": robustness.split_half_counts(split).to_markdown(),
            "rows": split_rows.drop(columns="primary").to_markdown(index=False, floatfmt="+.3f"),
        },
        "summary": tables.summary(claims[is_primary]),
        "figure": primaries(claims[is_primary]),
        "errata": (lambda e: {"rows": e["rows"].to_markdown(index=False, floatfmt=".4g"), "vae": e["vae"]})(
            errata(results)
        ),
        "primary": claims[is_primary],
        "frames": {"claims": pd.concat([table, beyond], ignore_index=True), "sizing": sizes, "split_half": split},
        "metrics": {
            "verdicts": headline,
            "claims": int(is_primary.sum()),
            "sensitivity_verdicts": sensitivity_counts,
            "controls": controls.verdict.tolist(),
            "beyond_verdicts": beyond_counts,
        },
    }


def save(ctx: dict[str, Any], folder: Path) -> None:
    """Notebook 99's outputs beside REPRODUCTION.md: each of the context's frames as ``<name>.csv``, its metrics as
    ``metrics.json``, and the figure of every primary as ``figures/99_reproduction_report.png`` and ``.pdf``."""
    prov = {"commit": ctx["commit"], "params_hash": ctx["params_hash"], "profile": ctx["profile"]}
    plotting.save_figure(ctx["figure"], "99_reproduction_report", prov)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in ctx["frames"].items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps(ctx["metrics"], indent=2))


def errata(results: Path = paths.RESULTS) -> dict[str, Any]:
    """What the engine's fixes since the confirmatory run change, shown as errata, never silently: ``rows``, every
    row of the papers' stages whose verdict or p (Holm-adjusted as the report adjusts it) differs between the
    registered judgement (the committed ``claims.csv``) and the same per-seed values judged by today's rules
    (:func:`lib.verdicts.robustness.rejudge` on every seed); and ``vae``, the VAE's primary at the plan's stated
    1 % margin beside its registered one (floored by the unpruned loss's seed spread: see the report)."""
    papers_, _ = judged_stages()
    raw = pd.concat([pd.read_csv(results / n / "claims.csv").assign(stage=n) for n in papers_], ignore_index=True)
    before = rules.correct_primaries(raw)
    after = rules.correct_primaries(robustness.rejudge(raw, lambda seeds: seeds))
    changed = (before.verdict != after.verdict) | ~np.isclose(before.p, after.p, rtol=1e-9, equal_nan=True)
    rows = pd.DataFrame(
        {
            "stage": before.stage,
            "claim": before.endpoint.where(before.endpoint.fillna("") != "", before.claim),
            "verdict_registered": before.verdict,
            "verdict_today": after.verdict,
            "p_registered": before.p,
            "p_today": after.p,
        }
    )[changed]
    vae = raw[(raw.endpoint == papers.VAE) & raw.primary.astype(bool)]
    stated = raw.copy()
    for i, r in vae.iterrows():
        values = rules.values_of(r.per_seed)
        rule = dataclasses.replace(rules.rule_of(r), needed=0.01, margin=0.01)
        judged = rules.decide(values, rule)
        stated.loc[i, ["verdict", "reason", "test", "p", "margin", "needed"]] = [
            judged.verdict, judged.reason, judged.test, rules.decision_p(values, rule), 0.01, 0.01,
        ]  # fmt: skip
    at_one = rules.correct_primaries(stated).loc[vae.index]
    return {
        "rows": rows,
        "vae": [
            {
                "registered": before.loc[i, "verdict"],
                "margin": r.margin,
                "at_1": at_one.loc[i, "verdict"],
                "p_at_1": stated.loc[i, "p"],
                "holm_at_1": at_one.loc[i, "p"],
            }
            for i, r in vae.iterrows()
        ],
    }


#: A verdict's colour in the figure of every primary (:func:`primaries`): supported green, refuted red, the claimed
#: effect absent at its size orange, undecided grey.
VERDICT_COLOURS = {
    "reproduced": "#1a9850",
    "exceeds": "#1a9850",
    "matches": "#1a9850",
    "contradicted": "#d73027",
    "smaller than claimed": "#fc8d59",
    "no meaningful difference": "#4575b4",
    "inconclusive": "#969696",
}


def _seed_values(row: Any) -> list[float]:
    """A row's per-seed values (a claim at every level: the level its estimate is, the least favourable)."""
    data = json.loads(row.per_seed) if isinstance(row.per_seed, str) and row.per_seed else {}
    if "levels" in data:
        levels = [list(level.values()) for level in data["levels"]]
        return min(levels, key=lambda v: abs(sum(v) / len(v) - row.estimate)) if levels else []
    return list(data.values())


def primaries(frame: Any) -> plt.Figure:
    """Every primary claim of a claims frame (:func:`lib.verdicts.rules.table`, corrected as the report shows it) on
    one figure, one row each in its own unit (points or percent, written beside it): the estimate with its 95 % t
    interval and the per-seed values as dots, coloured by verdict; the boundary it is tested against (a threshold, a
    non-inferiority margin or the smallest effect of interest) as a black bar, the paper's claimed value as a star;
    a primary the plan declares underpowered by design drawn hollow and labelled so. Rows without values (not run)
    are listed with their verdict."""
    rows = list(frame.itertuples())
    fig, axes = plt.subplots(len(rows), 1, figsize=(8.5, 0.62 * len(rows) + 0.9), squeeze=False)
    for ax, r in zip(axes[:, 0], rows):
        unit = tables.unit_of(r)
        colour = VERDICT_COLOURS.get(r.verdict, "#969696")
        hollow = getattr(r, "design", "") == "underpowered by design"
        name = f"{r.endpoint or r.claim} · {r.dataset}"
        label = f"{r.verdict}" + (" (underpowered by design)" if hollow else "")
        ax.set_yticks([0], [name], fontsize=7)
        ax.text(1.01, 0.5, f"{label}\n[{unit}]", transform=ax.transAxes, fontsize=7, va="center", color=colour)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if pd.isna(r.estimate):  # not run
            ax.set_xticks([])
            continue
        seeds = [100 * v for v in _seed_values(r)]
        ax.scatter(seeds, [0.25] * len(seeds), s=7, color=colour, alpha=0.5, linewidths=0)
        ax.plot([100 * r.low, 100 * r.high], [0, 0], color=colour, lw=2.2)
        ax.scatter(
            [100 * r.estimate], [0], s=36, zorder=3, color="white" if hollow else colour, edgecolors=colour, lw=1.5
        )
        bounds = [r.needed, getattr(r, "sesoi", math.nan)] if not r.two_sided else [-r.margin, r.margin]
        for b in bounds:
            if pd.notna(b):
                ax.axvline(100 * b, color="black", lw=1.1, ymin=0.15, ymax=0.85)
        if pd.notna(r.size):
            ax.scatter([100 * r.size], [0], marker="*", s=60, color="black", zorder=4)
        ax.set_ylim(-0.6, 0.6)
        ax.tick_params(axis="x", labelsize=7)
    axes[-1, 0].set_xlabel(
        "estimate, 95 % t interval (line), seeds (dots); tested against (black bar); the paper's value (★)", fontsize=8
    )
    fig.suptitle("Every primary claim: what was measured here, and its verdict", fontsize=10)
    return fig
