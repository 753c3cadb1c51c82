"""src/ reaches other code through its public names only: no attribute with a leading
underscore read off another object (Optuna's `study._storage`, OmegaConf's `_get_node`,
matplotlib's `figure._suptitle`, a statsmodels result's `_seasonal` were) and no private name
imported from another module. Such names change without notice between releases."""

import ast

from conftest import ROOT

HYDRA_KEYS = {"_target_"}  # Hydra's instantiation key: a config key, not a private attribute


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in HYDRA_KEYS


def private_uses(source: str) -> list[str]:
    """'<line> .<attribute>' and '<line> import <name>' for each private name used."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{node.lineno} .{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            found += [f"{node.lineno} import {alias.name}" for alias in node.names if _private(alias.name)]
    return found


def test_src_uses_no_private_name_of_other_code():
    uses = [f"{path.relative_to(ROOT)}:{use}" for path in sorted((ROOT / "src").rglob("*.py"))
            for use in private_uses(path.read_text())]
    assert uses == []


def test_the_check_sees_a_private_attribute_and_a_private_import():
    source = ("from optuna.study import _optimize\n"
              "class A:\n"
              "    def f(self, study, cfg):\n"
              "        return self._x, study._storage, cfg._target_, study.__class__\n")
    assert private_uses(source) == ["1 import _optimize", "4 ._storage"]
