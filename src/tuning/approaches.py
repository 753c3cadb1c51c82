"""What a sweep compares: each layout in `search.archs` under each stacking in
`search.stackings`, one study each with the same budget, except where two of them build the
same network (with one series per sample, `reshape_head` and `timedistributed` are one
function): that one is trained once and the report says so."""

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

DEFAULT_STACKING = "channels"


def label(arch: str, stacking: str) -> str:
    """The approach's name in studies, runs and tables: the arch, with `-<stacking>` unless
    it is the default stacking (so a channels study keeps its name whatever else is swept)."""
    return arch if stacking == DEFAULT_STACKING else f"{arch}-{stacking}"


@dataclass(frozen=True)
class Approach:
    arch: str
    stacking: str

    @property
    def label(self) -> str:
        return label(self.arch, self.stacking)

    @property
    def overrides(self) -> list[str]:
        return [f"arch={self.arch}", f"data.stacking={self.stacking}"]


def every(search: DictConfig) -> list[Approach]:
    """Every (arch, stacking) asked for, stacking-major."""
    return [Approach(arch, stacking) for stacking in search.stackings for arch in search.archs]


def plan(approaches: list[Approach], arch_cfg, shape: dict[str, int]) -> tuple[list[Approach], dict[str, str]]:
    """The approaches to run, and {label: label of the same network that runs instead} for
    the others. `arch_cfg(approach)` is its composed arch config; `shape` holds input_steps,
    horizon and n_series (before stacking)."""
    kept, same = [], {}
    for approach in approaches:
        twin = next((k for k in kept if k.stacking == approach.stacking
                     and same_network(arch_cfg(k), arch_cfg(approach), approach.stacking, shape)), None)
        if twin is None:
            kept.append(approach)
        else:
            same[approach.label] = twin.label
    return kept, same


def same_network(a: DictConfig, b: DictConfig, stacking: str, shape: dict[str, int]) -> bool:
    """Whether two arch configs build one function on this data's shape: the same weight
    shapes in the same order, and the same outputs once b holds a's weights."""
    import keras

    from src.one_run import build_network

    series = 1 if stacking == "samples" else shape["n_series"]
    sizes = (shape["input_steps"], shape["horizon"], series)
    model_a, model_b = build_network(a, *sizes), build_network(b, *sizes)
    if not (isinstance(model_a, keras.Model) and isinstance(model_b, keras.Model)):
        return False
    weights = model_a.get_weights()
    if [w.shape for w in weights] != [w.shape for w in model_b.get_weights()] or not weights:
        return False
    model_b.set_weights(weights)
    x = np.random.default_rng(0).normal(size=(4, shape["input_steps"], series)).astype("float32")
    return bool(np.allclose(model_a(x), model_b(x), rtol=0, atol=1e-6))
