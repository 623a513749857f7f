"""How robust the verdicts are — shown beside them, never deciding one.

- :func:`leave_one_out`: a verdict is *decided with any one seed removed*, or *fragile* (with the seeds whose removal
  changes it); :func:`lib.verdicts.rules.claim` stores it in every decided row (``loo``), the families with their
  level rule, Holm family and gate.
- :func:`rejudge`: a claims table judged again on a subset of its seeds, from the per-seed values every row carries —
  its own rule, the level rule of a claim at every level, its Holm family and its gate — with the endpoints fixed as
  they were chosen on every seed (informative levels, margins, targets).
- :func:`split_half` / :func:`split_half_counts`: the first half of the seeds against the second half and against
  all: how many rows agree, differ, and flip between reproduced and contradicted.
- :func:`stability`: two runs of the same claims side by side (e.g. another CPU), and the command line that compares
  two claims tables::

    python -m lib.verdicts.robustness FIRST.csv SECOND.csv
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import stats
from . import rules

UNSTABLE = "unstable across seeds"
#: Split-half agreement of a row: the same verdict on both halves, another one, or reproduced on one half and
#: contradicted on the other.
AGREE, DIFFER, FLIP = "agree", "differ", "flip"

#: A number in a claim's text (sign, digits, decimals, a trailing percent sign).
NUMBER = r"[-+−]?\d+(?:\.\d+)?%?"

Keep = Callable[[list[str]], Collection[str]] | Collection[Any]


def leave_one_out(values: pd.Series, rule: rules.Rule) -> str:
    """The leave-one-seed-out status of the verdict ``rule`` gives per-seed ``values`` (a series indexed by seed):
    :data:`lib.verdicts.rules.STEADY` if every subset without one seed gets the same verdict, else
    :data:`lib.verdicts.rules.FRAGILE` with the seeds whose removal changes it; empty for an undecided verdict.

    >>> leave_one_out(pd.Series([0.031, 0.029, 0.030, 0.032, 0.028]), rules.Rule())
    'decided with any one seed removed'
    >>> leave_one_out(pd.Series([0.087, 0.032, 0.052, -0.012, 0.051, 0.096]), rules.Rule())[:8]
    'fragile:'
    """
    v = values.astype(float).dropna()
    verdict = rules.decide(v, rule).verdict
    if verdict not in rules.DECIDED:
        return ""
    return rules.loo_status(list(v.index), lambda seed: rules.decide(v.drop(seed), rule).verdict, verdict)


def _kept(values: pd.Series, keep: Keep) -> pd.Series:
    seeds = [str(s) for s in values.index]
    chosen = keep(seeds) if callable(keep) else keep
    return values[values.index.astype(str).isin({str(s) for s in chosen})]


def _judged(row: Any, keep: Keep) -> dict[str, Any] | None:
    """A row judged again on the seeds ``keep`` selects, by its own rule or its level rule; None for a row with no
    per-seed values (not run, not testable)."""
    values = rules.values_of(row.per_seed)
    if values is None:
        return None
    rule = rules.rule_of(row)
    if isinstance(values, list):
        levels = [_kept(v, keep) for v in values]
        verdict, reason, p = rules.judge_levels(levels, rule)
        sign = 1.0 if rule.side == "above" else -1.0
        intervals = [stats.interval(level) for level in levels]
        e = min(intervals, key=lambda i: -np.inf if np.isnan(i.mean) else sign * i.mean)
        test = "levels"
    else:
        v = _kept(values, keep)
        e = stats.interval(v)
        verdict, reason, test = rules.decide(v, rule)
        p = rules.decision_p(v, rule)
    if row.paper == "control":
        passed = verdict == "reproduced"
        verdict, reason, test = (
            ("passed" if passed else "failed"),
            ("regime can discriminate" if passed else rules.CANNOT_DISCRIMINATE),
            "gate",
        )
    return {
        "estimate": e.mean,
        "low": e.low,
        "high": e.high,
        "n": e.n,
        "sd": e.sd,
        "p": p,
        "verdict": verdict,
        "reason": reason,
        "test": test,
    }


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


def rejudge(table: pd.DataFrame, keep: Keep) -> pd.DataFrame:
    """A claims table (:func:`lib.verdicts.rules.table`, or its CSV) judged again on a subset of the seeds: ``keep``
    is the seeds to keep, or a function from a row's seeds (as text) to the ones to keep (e.g. the first half of
    them). Every row with per-seed values is judged by its rule (a claim at every level by its level rule), then
    every Holm family is corrected again (a family some of whose rows the table lacks — Fig. 4's best interior δ —
    counts them with p = 1: conservative) and every gate applied again (a row whose gate fails on the subset
    becomes inconclusive). Rows without values (not run, not testable) stay as they are; the sign-flip interval,
    the MDE and the notes are not recomputed. What an endpoint is — its informative levels, margins, targets — stays
    as it was chosen on every seed."""
    table = rules.texts(table)
    out = table.copy()
    for i, row in table.iterrows():
        judged = _judged(row, keep)
        if judged is not None:
            for column, value in judged.items():
                out.at[i, column] = value
            if "loo" in out:
                out.at[i, "loo"] = ""
    family = out["family"].map(_text) if "family" in out else pd.Series("", index=out.index)
    for key, g in out[family != ""].groupby(family[family != ""]):
        m = rules.family_size(str(key)) or len(g)
        adjusted = stats.holm([*g.p.to_numpy(dtype=float), *[1.0] * max(0, m - len(g))])[: len(g)]
        for i, q in zip(g.index, adjusted):
            out.at[i, "p"] = float(q)
            undecided = rules.holm_verdict(out.at[i, "verdict"], q, m)
            if undecided:
                out.loc[i, ["verdict", "reason", "test"]] = [undecided[0], undecided[1], "Holm"]
    if "gate" in out:
        keys = out["gate"].map(_text)
        controls = out[(out.paper == "control") & (keys != "")]
        failed = set(keys[controls.index][controls.verdict == "failed"])
        guarded = (
            (out.paper != "control") & keys.isin(failed) & ~out.verdict.isin(["not run", "not testable in this regime"])
        )
        out.loc[guarded, ["verdict", "reason", "test"]] = ["inconclusive", rules.CANNOT_DISCRIMINATE, "gate"]
    return out


def halves(seeds: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """The first and the second half of ``seeds`` in numeric order (the first half the smaller one when their
    number is odd).

    >>> halves(["0", "1", "10", "2", "3", "11", "4", "5", "6", "7", "8", "9"])
    (['0', '1', '2', '3', '4', '5'], ['6', '7', '8', '9', '10', '11'])
    """
    ordered = sorted(seeds, key=rules.seed_order)
    return ordered[: len(ordered) // 2], ordered[len(ordered) // 2 :]


def _agreement(first: str, second: str) -> str:
    if first == second:
        return AGREE
    return FLIP if {first, second} == {"reproduced", "contradicted"} else DIFFER


def split_half(table: pd.DataFrame, correct: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> pd.DataFrame:
    """Each row of a claims table judged on the first half of its seeds, on the second half, and on all of them
    (:func:`rejudge`, all three from the values each row carries; ``correct``: what the report applies to a table
    after the families, e.g. :func:`lib.verdicts.rules.correct_primaries`): its verdict on each, and ``agreement`` —
    :data:`AGREE` (the two
    halves give the same verdict), :data:`FLIP` (reproduced on one, contradicted on the other) or :data:`DIFFER`.
    Rows without per-seed values are left out. Shown, never deciding."""
    correct = correct or (lambda t: t)
    both = correct(rejudge(table, lambda seeds: seeds))  # from the values too: a report's table is corrected already
    first = correct(rejudge(table, lambda seeds: halves(seeds)[0]))
    second = correct(rejudge(table, lambda seeds: halves(seeds)[1]))
    judged = table.per_seed.map(_text) != "" if "per_seed" in table else pd.Series(False, index=table.index)
    keys = [c for c in ("stage", "paper", "source", "dataset", "claim", "endpoint", "primary") if c in table]
    out = table.loc[judged, keys].copy()
    for name, t in (("first", first), ("second", second), ("all", both)):
        out[f"n_{name}"] = t.loc[judged, "n"]
        out[f"estimate_{name}"] = t.loc[judged, "estimate"]
        out[f"verdict_{name}"] = t.loc[judged, "verdict"]
    out["agreement"] = [_agreement(a, b) for a, b in zip(out.verdict_first, out.verdict_second)]
    return out


def split_half_counts(split: pd.DataFrame) -> pd.DataFrame:
    """How many rows of a :func:`split_half` table agree, differ and flip: every row, the primaries, and the gates."""
    primary = split.primary.fillna(False).astype(bool) if "primary" in split else pd.Series(False, index=split.index)
    groups = {"every row": split, "primary": split[primary], "gates": split[split.paper == "control"]}
    return pd.DataFrame(
        [
            {"rows": name, **{a: int((g.agreement == a).sum()) for a in (AGREE, DIFFER, FLIP)}, "total": len(g)}
            for name, g in groups.items()
        ]
    ).set_index("rows")


def stability(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Two runs of the same claims (:func:`lib.verdicts.rules.table` frames, e.g. of disjoint seed sets, or of two
    machines) side by side: a claim whose verdicts differ is *inconclusive (unstable across seeds)* in the
    ``combined`` column."""
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
    (``results/99_reproduction_report/claims.csv`` of two runs, e.g. with disjoint seeds or on two machines) side by
    side as Markdown, with the verdicts that differ marked unstable. ``--split-half TABLE.csv``: one claims table's
    split-half table and its counts."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("first")
    parser.add_argument("second", nargs="?")
    parser.add_argument("--split-half", action="store_true", help="split-half table of FIRST (no SECOND)")
    args = parser.parse_args(argv)
    if args.split_half:
        split = split_half(pd.read_csv(args.first), rules.correct_primaries)
        print(split.to_markdown(index=False, floatfmt="+.3f"))
        print("\n" + split_half_counts(split).to_markdown())
        return 0
    if args.second is None:
        parser.error("two claims tables, or --split-half with one")
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
