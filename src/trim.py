"""Keras imports scikit-learn (for its scikit-learn wrappers) and pyplot (for its image
galleries) whenever they are installed, and falls back without them when they are not.
Neither is used here, and MLflow installs scikit-learn: the two cost about a second of every
process that imports Keras (3.7 s -> 2.8 s here). While Keras's own modules are imported,
they are reported missing; anything that imports them later gets them as usual."""

import importlib.abc
import importlib.machinery
import sys

UNUSED = ("sklearn", "matplotlib.pyplot")


class _Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in UNUSED:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None


class _KerasLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        missing = _Missing()
        sys.meta_path.insert(0, missing)
        try:
            self.loader.exec_module(module)
        finally:
            sys.meta_path.remove(missing)


class _KerasFinder(importlib.abc.MetaPathFinder):
    """Stays in place: TensorFlow looks Keras up (find_spec) before it imports it."""

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _KerasLoader(spec.loader)
        return spec


def install() -> None:
    """Leave UNUSED out of Keras's import when this process first imports Keras."""
    if "keras" not in sys.modules and not any(isinstance(f, _KerasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder())
