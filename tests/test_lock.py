"""The environment `make setup` built holds exactly requirements.lock, and the lock still
satisfies pyproject.toml's ranges (edit those, then `make lock`)."""

import re
import sys
import tomllib
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT, run_cli
from src.versions import PACKAGES, versions

LOCK = ROOT / "requirements.lock"
# Installed beside the lock by `make setup`: the installers and the project itself.
NOT_LOCKED = {"pip", "uv", "many2many"}


def pins() -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", LOCK.read_text(), re.MULTILINE)
    return {canonicalize_name(name): version for name, version in found}


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
                    reason="checks the project's .venv only (make test runs in it)")
def test_the_venv_holds_exactly_the_locked_versions():
    locked, have = pins(), installed()
    assert {n: (v, have.get(n)) for n, v in locked.items() if have.get(n) != v} == {}, \
        "(locked, installed) differ: run make setup"
    assert sorted(have.keys() - locked.keys() - NOT_LOCKED) == [], "installed but not locked"


def test_the_lock_satisfies_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = pins()
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in the lock: run make lock"
        assert req.specifier.contains(locked[name]), f"lock has {req.name}=={locked[name]}, " \
                                                     f"pyproject.toml wants {req}: run make lock"


def test_version_names_what_a_run_uses():
    result = run_cli("src.train", "--version")
    assert result.returncode == 0, result.stderr
    found = versions()
    assert result.stdout.startswith(f"many2many {found['many2many']} (")
    for name in (*PACKAGES, "python"):
        assert f"{name} {found[name]}" in result.stdout
