"""``python -m lib.params``: check ``params.yaml`` before any work (every stage runs it first)."""

from lib.params.profiles import main

raise SystemExit(main())
