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
