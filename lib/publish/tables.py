"""The claims as REPRODUCTION.md, the website and the notebooks show them: each claim's numbers as text
(:func:`cells`) and a Markdown table (:func:`markdown`) from :func:`lib.verdicts.rules.table`'s frame of numbers."""

from __future__ import annotations

import math

import pandas as pd

from ..verdicts.rules import DECIDED, UNDERPOWERED, UNITS


def _number(v: float, unit: str) -> str:
    """A fraction as its unit prints it: percentage points to one decimal, a percent to three significant digits."""
    if pd.isna(v):
        return "—"
    if math.isinf(v):
        return "−∞" if v < 0 else "+∞"
    return f"{v * 100:+.1f}" if unit == "pts" else f"{v * 100:+.3g}"


def unit_of(r) -> str:
    """A row's unit (:data:`lib.verdicts.rules.UNITS`); a table written before rows had one prints points."""
    unit = getattr(r, "unit", "pts")
    return unit if unit in UNITS else "pts"


def cells(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Per claim, the text a table shows, in the claim's own unit (:attr:`lib.verdicts.rules.Claim.unit`):
    ``estimate`` with its t interval, the sign-flip interval, the ``rule`` (what it was tested against: the side and
    value — for a stated size, its smallest effect of interest —, the claimed size, *sign only* where the paper states
    no size, the basis of a threshold the claim states, the margin), the minimum detectable effect and the
    ``verdict`` (with its reason where it adds to the rule — an undecided verdict's always —, its qualifying note
    and its leave-one-seed-out status)."""
    out = []
    for r in frame.itertuples():
        units = unit_of(r)
        unit = f" {units}"
        f = lambda v: _number(v, units)  # noqa: E731
        if pd.isna(r.estimate):
            est = flip = "—"
        elif pd.isna(r.low):
            est, flip = f"{f(r.estimate)}{unit} (no CI)", "—"
        else:
            est = f"{f(r.estimate)}{unit} [{f(r.low)}, {f(r.high)}]"
            flip = "too few seeds" if math.isinf(r.flip_low) else f"[{f(r.flip_low)}, {f(r.flip_high)}]"
        if r.verdict == "not run" or pd.isna(r.needed):
            rule = "—"
        elif r.two_sided:
            rule = f"two-sided, margin ±{f(r.margin).lstrip('+')}{unit}"
        else:
            sesoi = getattr(r, "sesoi", math.nan)
            if not pd.isna(r.size) and not pd.isna(sesoi):
                rule = f"{r.side} {f(sesoi)}{unit} (smallest effect of interest); claimed {f(r.size)}{unit}"
            else:
                rule = f"{r.side} {f(r.needed)}{unit}"
            if not pd.isna(r.size) and pd.isna(sesoi):
                rule += f"; claimed {f(r.size)}{unit}"
            elif r.needed == 0 and pd.isna(r.size) and r.paper in ("FlexRel", "Rank"):
                rule += "; sign only: the paper states no size"
            elif r.needed != 0 and (pd.isna(r.margin) or r.needed != -r.margin):
                rule += f" ({r.basis})"
            if not pd.isna(r.margin):
                rule += f"; margin ±{f(r.margin).lstrip('+')}{unit}"
        mde = "—" if pd.isna(r.mde) else f"{f(r.mde).lstrip('+')}{unit}"
        loo = getattr(r, "loo", "")
        # "CI above …" restates the rule column; an undecided verdict's reason, or a size claimed and missed (whose
        # direction may be undetermined), says more
        restates = r.test == "interval" and r.verdict in DECIDED and r.verdict != "smaller than claimed"
        parts = ("" if restates else r.reason, r.note, loo)
        shown = "; ".join(t for t in parts if isinstance(t, str) and t)
        reason = f" ({shown})" if shown else ""
        out.append({"estimate": est, "flip": flip, "rule": rule, "mde": mde, "verdict": r.verdict, "reason": reason})
    return out


def markdown(frame: pd.DataFrame) -> str:
    """The claims frame as a Markdown table (see :func:`cells`). A primary the analysis plan declares
    underpowered says so; a row shown with a primary (a consequence of it, a point of its curve) says it is not
    counted; every other row but a gate is a sensitivity row."""
    lines = [
        "| paper | claim | paper value | ours: quantity | estimate [95 % t CI] | sign-flip 95 % CI | n | "
        "tested against | MDE | verdict | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c, r in zip(cells(frame), frame.itertuples()):
        tag = _tag(r)
        lines.append(
            f"| {r.paper} | {r.claim}{tag} | {r.paper_value} | {r.quantity} | {c['estimate']} | {c['flip']} | {r.n} "
            f"| {c['rule']} | {c['mde']} | **{r.verdict}**{c['reason']} | {r.source} · {r.dataset} |"
        )
    return "\n".join(lines)


def _tag(r) -> str:
    """What a row is, beside its claim: nothing for a counted primary or a gate."""
    design, endpoint = getattr(r, "design", ""), getattr(r, "endpoint", "")
    if r.paper == "control":
        return ""
    if r.primary:
        return f" *({UNDERPOWERED})*" if design == UNDERPOWERED else ""
    if isinstance(endpoint, str) and endpoint:
        return f" *(shown with the primary {endpoint}, not counted)*"
    return " *(sensitivity)*"


def _plain(r, f, unit: str) -> str:
    """One sentence, without jargon, on why a primary got its verdict: the bound it names is the one the rule tested
    (a stated size: its smallest effect of interest), and for an undecided row one its interval really straddles."""
    sesoi = getattr(r, "sesoi", math.nan)
    tested = sesoi if pd.notna(r.size) and pd.notna(sesoi) else (-r.margin if r.two_sided else r.needed)
    inside = [b for b in (tested, r.needed, sesoi, -r.margin, r.margin) if pd.notna(b) and r.low < b < r.high]
    bound = f"{f(tested)}{unit}"
    straddled = f"{f(inside[0] if inside else tested)}{unit}"
    side = "below" if r.side == "below" else "above"
    sentences = {
        "reproduced": f"Every plausible value (the 95 % interval) lies {side} {bound}, as the paper says.",
        "exceeds": "The effect is there, and larger than the paper's number.",
        "matches": "What we measure agrees with the paper's number within the margin.",
        "contradicted": f"Every plausible value lies on the other side of {bound}: the claim does not hold here.",
        "smaller than claimed": "Whatever effect there is, it is smaller than the smallest size the paper's words "
        f"allow ({f(getattr(r, 'sesoi', math.nan))}{unit})"
        + ("; whether it is above or below zero, these seeds cannot tell." if r.low < 0 < r.high else "."),
        "no meaningful difference": f"Whatever difference there is, it is within ±{f(r.margin).lstrip('+')}{unit}: "
        "too small to matter.",
        "inconclusive": f"The plausible values fall on both sides of {straddled}: these seeds cannot tell.",
        "not run": f"Not measured here ({r.reason}).",
    }
    text = sentences.get(r.verdict, r.reason)
    if r.test == "Holm":
        text = f"It was decided on its own ({r.reason}), but not once corrected for the paper's several claims."
    elif r.test == "gate":
        text = "The random control could not be told apart from the criteria here, so no comparison is trusted."
    if getattr(r, "design", "") == UNDERPOWERED:
        text += (
            " The plan expected no decision at these seeds (too noisy); this one came anyway and is counted apart."
            if r.verdict in DECIDED
            else " The plan expected no decision: this measure is too noisy for the seeds it could afford."
        )
    return text


def summary(frame: pd.DataFrame) -> str:
    """The primary claims in plain words, one line each: what the paper says (its words and number), what was measured
    here (the mean and its 95 % interval, in the claim's unit), the verdict, and why."""
    lines = ["| claim | the paper says | measured here | verdict | why |", "|---|---|---|---|---|"]
    for r in frame.itertuples():
        units = unit_of(r)
        f = lambda v: _number(v, units)  # noqa: E731
        measured = "—" if pd.isna(r.estimate) else f"{f(r.estimate)} {units} [{f(r.low)}, {f(r.high)}]"
        lines.append(
            f"| {r.paper} · {r.dataset}: {r.endpoint} | {r.claim} ({r.paper_value}) | {measured} | **{r.verdict}** "
            f"| {_plain(r, f, ' ' + units)} |"
        )
    return "\n".join(lines)
