"""REPRODUCTION.md: its prose is a Jinja2 template (``templates/REPRODUCTION.md.j2``), filled by notebook 99 with
the claims the notebooks judged, the parameters, the machine, the sizing table and the record of the cold run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from ..scale.sizing import duration

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
