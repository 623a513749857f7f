"""REPRODUCTION.md's context (lib/publish/report.py), on the committed results."""

from __future__ import annotations

import pandas as pd

from lib.params import paths
from lib.publish import report
from lib.verdicts import rules


def test_the_split_half_check_covers_every_claims_table_with_per_seed_values():
    """Every stage that judges claims is read, and every one of its rows with per-seed values is split: the studies'
    (07-09) as well as the papers' (01-06)."""
    papers, studies = report.judged_stages()
    assert papers[0].startswith("01_") and [s[:2] for s in studies] == ["07", "08", "09"]
    table, beyond = report.judged(paths.RESULTS)
    split = report.split_half(table, beyond)
    every = pd.concat([table, beyond], ignore_index=True)
    with_values = every[every.per_seed.map(lambda v: rules.values_of(v) is not None)]
    assert set(split.stage) == set(with_values.stage) and {*studies} <= set(split.stage)
    assert len(split) == len(with_values)


def test_the_figure_of_every_primary_has_one_estimate_marker_per_primary():
    """One row per primary: the estimate as one marker at its value, the interval as one line (a row that was not
    run has neither)."""
    import matplotlib

    matplotlib.use("Agg")
    table, _ = report.judged(paths.RESULTS)
    primary = table[(table.paper != "control") & table.primary.astype(bool)]
    fig = report.primaries(primary)
    assert len(fig.axes) == len(primary)
    for ax, r in zip(fig.axes, primary.itertuples()):
        estimates = [c for c in ax.collections if len(c.get_offsets()) == 1 and c.get_offsets()[0][1] == 0]
        if pd.isna(r.estimate):
            assert not estimates
        else:
            (marker,) = [c for c in estimates if c.get_sizes()[0] == 36]
            assert abs(marker.get_offsets()[0][0] - 100 * r.estimate) < 1e-9
