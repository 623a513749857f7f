"""Layer 1 — core: data (:mod:`.data`), networks (:mod:`.models`), training loops (:mod:`.train`), physical
pruning with torch-pruning (:mod:`.prune`), interval statistics (:mod:`.stats`) and timing (:mod:`.timing`)."""
