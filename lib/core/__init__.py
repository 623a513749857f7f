"""Layer 1 — core: data (:mod:`.data`), networks (:mod:`.models`), training loops (:mod:`.train`), physical
pruning with torch-pruning (:mod:`.prune`), interval statistics (:mod:`.stats`), timing (:mod:`.timing`), and what
code a computation executed (:mod:`.code`: the run store checks it on lookup)."""
