"""Layer 7 — publish: figures with provenance (:mod:`.plotting`), the website (:mod:`.site`) and exported
networks (:mod:`.export`)."""
