"""Wall time and peak memory of every pipeline stage, as the last ``dvc repro`` recorded them.

Each stage runs through :mod:`lib.store.machine`, which writes ``results/<stage>/resources.json``; a stage that has
not run here is listed as such.

    .venv/bin/python -m benchmarks.stage_resources
"""

from __future__ import annotations

import json

import pandas as pd
import yaml

from lib.params.paths import RESULTS, ROOT


def run(quick: bool = False) -> pd.DataFrame:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    rows = []
    for stage in stages:
        path = RESULTS / stage / "resources.json"
        found = json.loads(path.read_text()) if path.exists() else {}
        rows.append(
            {
                "stage": stage,
                "seconds": found.get("seconds"),
                "peak_rss_mib": found.get("peak_rss_mib"),
                "cpu": found.get("machine", {}).get("cpu"),
                "ran": bool(found),
            }
        )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    print(run().to_string())
