"""Layer 5 — verdicts, torch-free: the engine (:mod:`.rules`: intervals, gates, verdicts), what it measures
(:mod:`.measures`), the papers' claim families (:mod:`.papers`), the rows of the studies beyond the papers
(:mod:`.study_claims`) and how robust the verdicts are (:mod:`.robustness`)."""
