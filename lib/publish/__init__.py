"""Layer 7 — publish: what every notebook does first (:mod:`.notebook`), figures with provenance
(:mod:`.plotting`), the claims as text and Markdown tables (:mod:`.tables`), REPRODUCTION.md from its Jinja2
template (:mod:`.report`), the website (:mod:`.site`) and exported networks (:mod:`.export`)."""
