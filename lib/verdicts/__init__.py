"""Layer 5 — verdicts: the engine (:mod:`.rules`: intervals, gates, verdicts) and the rows of the studies
beyond the papers (:mod:`.study_claims`)."""
