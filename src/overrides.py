"""Hydra command-line overrides: combining them, and the command that reproduces one run."""

import shlex

from src.redact import redact


def merge_overrides(base: list[str], extra: list[str]) -> list[str]:
    """base then extra, where a key set in extra drops the same key from base."""
    keys = {o.split("=", 1)[0] for o in extra}
    return [o for o in base if o.split("=", 1)[0] not in keys] + extra


def reproduce_command(overrides: list[str]) -> str:
    """`python -m src.train` with the overrides that matter to one run (not search.*)."""
    kept = [o for o in overrides if not o.lstrip("+~").startswith("search")]
    return redact(" ".join(["python -m src.train", *(shlex.quote(o) for o in kept)]))
