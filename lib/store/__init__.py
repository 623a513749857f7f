"""Layer 3 — store: the run store (:mod:`.runs`: a run as a value, keyed by what can change it, read back or
computed once) and the machine (:mod:`.machine`): its description, the library versions that key every run, and
the wrapper every stage runs through, which records the stage's wall time and peak memory (REPRODUCTION.md's
compute section reads them)."""
