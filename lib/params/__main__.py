"""``python -m lib.params``: check ``params.yaml`` before any work (every stage runs it first)."""

from .profiles import main

raise SystemExit(main())
