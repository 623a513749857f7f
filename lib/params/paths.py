"""Where things live in the checkout: the parameters file, the data, results, figures and the run store."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARAMS_FILE = ROOT / "params.yaml"
DATA_ROOT = ROOT / "data"
RESULTS = ROOT / "results"
FIGURES = ROOT / "figures"
#: Finished runs, keyed by what made them (:mod:`lib.store.runs`).
RUNS = ROOT / "cache" / "runs"
