"""Layer 3 — store: the run store, each run keyed by what can change it (:mod:`.runs`), and the description
of the machine a run or stage ran on (:mod:`.machine`)."""
