"""Figures: one paper-like style, and saving with provenance (commit, parameter hash, profile, dataset).

Every figure is written as PNG and PDF under ``figures/`` with the provenance in the files' metadata
and in a small footer on the figure itself, so a stale figure is recognisable.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import seaborn as sns

from ..params.paths import FIGURES, ROOT
from ..store.runs import config_hash


def style() -> None:
    """The project's figure style: seaborn's paper context with a white grid."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.2)
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "pdf.fonttype": 42,
            "figure.constrained_layout.use": True,
        }
    )


def git_commit(root: Path = ROOT) -> str:
    """Short commit of the working tree, ``-dirty`` if an input of the pipeline (code, notebooks, parameters,
    pipeline definition) has uncommitted changes; ``unknown`` outside git. Outputs the pipeline is writing
    (figures, results, ``dvc.lock``) do not count."""
    inputs = ["lib", "notebooks", "params.yaml", "dvc.yaml", "data.dvc"]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *inputs],
            cwd=root,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def provenance(params: Any, profile: str, dataset: str) -> dict[str, str]:
    """What produced a figure: commit, hash of its parameters, profile and dataset."""
    return {"commit": git_commit(), "params_hash": config_hash(params), "profile": profile, "dataset": dataset}


def save_figure(fig: plt.Figure, name: str, prov: dict[str, str], folder: Path = FIGURES) -> list[Path]:
    """Write ``fig`` as ``folder/name.png`` and ``.pdf`` with ``prov`` as metadata and a footer line.

    Returns the written paths.
    """
    folder.mkdir(parents=True, exist_ok=True)
    footer = "  ·  ".join(f"{k} {v}" for k, v in prov.items())
    fig.text(0.995, -0.005, footer, ha="right", va="top", fontsize=6, color="0.45")  # below the axes
    text = json.dumps(prov, sort_keys=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    fig.savefig(paths[0], metadata={"Title": name, "Description": text, "Software": "pruning-companion"})
    fig.savefig(
        paths[1], metadata={"Title": name, "Subject": text, "Creator": "pruning-companion", "CreationDate": None}
    )
    return paths


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
        unit = getattr(r, "unit", "pts") if getattr(r, "unit", "pts") in ("pts", "%") else "pts"
        colour = VERDICT_COLOURS.get(r.verdict, "#969696")
        hollow = getattr(r, "design", "") == "underpowered by design"
        name = f"{r.endpoint or r.claim} · {r.dataset}"
        label = f"{r.verdict}" + (" (underpowered by design)" if hollow else "")
        ax.set_yticks([0], [name], fontsize=7)
        ax.text(1.01, 0.5, f"{label}\n[{unit}]", transform=ax.transAxes, fontsize=7, va="center", color=colour)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if r.estimate != r.estimate:  # NaN: not run
            ax.set_xticks([])
            continue
        seeds = [100 * v for v in _seed_values(r)]
        ax.scatter(seeds, [0.25] * len(seeds), s=7, color=colour, alpha=0.5, linewidths=0)
        ax.plot([100 * r.low, 100 * r.high], [0, 0], color=colour, lw=2.2)
        ax.scatter(
            [100 * r.estimate], [0], s=36, zorder=3, color="white" if hollow else colour, edgecolors=colour, lw=1.5
        )
        bounds = [r.needed] if not r.two_sided else [-r.margin, r.margin]
        if getattr(r, "sesoi", float("nan")) == getattr(r, "sesoi", None):  # a smallest effect of interest
            bounds.append(r.sesoi)
        for b in bounds:
            if b == b:
                ax.axvline(100 * b, color="black", lw=1.1, ymin=0.15, ymax=0.85)
        if r.size == r.size:
            ax.scatter([100 * r.size], [0], marker="*", s=60, color="black", zorder=4)
        ax.set_ylim(-0.6, 0.6)
        ax.tick_params(axis="x", labelsize=7)
    axes[-1, 0].set_xlabel(
        "estimate, 95 % t interval (line), seeds (dots); tested against (black bar); the paper's value (★)", fontsize=8
    )
    fig.suptitle("Every primary claim: what was measured here, and its verdict", fontsize=10)
    return fig
