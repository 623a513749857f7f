"""Layer 5 — verdicts, torch-free: the engine (:mod:`.rules`: intervals, gates, verdicts, each row's leave-one-seed-out
status), what it measures (:mod:`.measures`), the papers' claim families and the analysis plan's primary endpoints
(:mod:`.papers`), the plan's powers and its Markdown (:mod:`.plan`), the rows of the studies beyond the papers
(:mod:`.study_claims`) and how robust the verdicts are (:mod:`.robustness`: re-judging on a subset of seeds, split
halves, two runs side by side)."""
