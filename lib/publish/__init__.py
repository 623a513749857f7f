"""Layer 7 — publish: what every notebook does first (:mod:`.notebook`), figures with provenance
(:mod:`.plotting`), REPRODUCTION.md from its Jinja2 template (:mod:`.report`), the website (:mod:`.site`) and
exported networks (:mod:`.export`)."""
