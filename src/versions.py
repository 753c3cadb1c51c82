"""The versions a run used, read from the installed packages' metadata, so asking for them
does not import TensorFlow."""

import platform
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("tensorflow", "keras", "optuna", "mlflow", "hydra-core")


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "not installed"


def versions() -> dict[str, str]:
    """many2many's, the packages that shape a result, and Python's."""
    return {"many2many": _installed("many2many"), **{p: _installed(p) for p in PACKAGES},
            "python": platform.python_version()}


def describe() -> str:
    """`many2many 0.1.0 (tensorflow 2.21.0, keras 3.15.1, ..., python 3.11.7)`"""
    found = versions()
    own = found.pop("many2many")
    return f"many2many {own} (" + ", ".join(f"{k} {v}" for k, v in found.items()) + ")"
