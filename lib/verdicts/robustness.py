"""How robust the verdicts are: two runs of the same claims side by side (:func:`stability`; e.g. disjoint seed
sets, or another CPU), and the command line that compares two claims tables.

    python -m lib.verdicts.robustness FIRST.csv SECOND.csv
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

UNSTABLE = "unstable across seeds"


#: A number in a claim's text (sign, digits, decimals, a trailing percent sign).
NUMBER = r"[-+−]?\d+(?:\.\d+)?%?"


def stability(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Two runs of the same claims (:func:`table` frames, e.g. of disjoint seed sets) side by side: a claim
    whose verdicts differ is *inconclusive (unstable across seeds)* in the ``combined`` column."""
    # A claim's text may carry numbers of the run (the best δ, the measured share, the informative levels): it is
    # matched by its text with every number blanked, and by its place among claims of equal blanked text.
    key = ["paper", "source", "dataset", "words", "row"]
    a, b = (t.assign(words=t.claim.str.replace(NUMBER, "#", regex=True)) for t in (a, b))
    a, b = (t.assign(row=t.groupby(key[:-1]).cumcount()) for t in (a, b))
    cols = ["estimate", "low", "high", "verdict"]
    both = a[key + ["claim", "quantity", "primary"] + cols].merge(
        b[key + cols], on=key, how="outer", suffixes=("_first", "_second")
    )
    same = both.verdict_first == both.verdict_second
    both["combined"] = np.where(same, both.verdict_first, "inconclusive")
    both["reason"] = np.where(same, "", UNSTABLE)
    return both


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lib.verdicts.robustness FIRST.csv SECOND.csv``: two claims tables
    (``results/99_reproduction_report/claims.csv`` of two runs, e.g. with disjoint seeds) side by side as Markdown,
    with the verdicts that differ marked unstable."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args(argv)
    both = stability(pd.read_csv(args.first), pd.read_csv(args.second))
    cols = [
        "paper",
        "dataset",
        "claim",
        "quantity",
        "primary",
        "estimate_first",
        "low_first",
        "high_first",
        "verdict_first",
        "estimate_second",
        "low_second",
        "high_second",
        "verdict_second",
        "combined",
        "reason",
    ]
    print(both[cols].to_markdown(index=False, floatfmt="+.3f"))
    primary = both[both.primary.fillna(False).astype(bool)]
    decided = {"reproduced", "contradicted"}
    swapped = primary.verdict_first.isin(decided) & primary.verdict_second.isin(decided) & (primary.reason == UNSTABLE)
    print(
        f"\n{int((both.reason == UNSTABLE).sum())} of {len(both)} rows unstable across the two runs; "
        f"primary: {int((primary.reason == UNSTABLE).sum())} of {len(primary)}, "
        f"{int(swapped.sum())} between reproduced and contradicted"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
