"""Benchmarks of this machine (``make bench``; see ``__main__``). Each module has ``run(quick) -> DataFrame``."""


def profile(quick: bool) -> str:
    """The parameter profile a benchmark measures: ``default``, or ``smoke`` for a quick check of the code."""
    return "smoke" if quick else "default"
