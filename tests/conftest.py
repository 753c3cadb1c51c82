import copy
import functools
import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from src.config import CONF_DIR  # noqa: E402
from src.config import register_configs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Small enough for seconds per run: 150 windows, one epoch, one narrow LSTM layer.
TINY = ["data.n_windows=200", "train.epochs=1", "train.verbose=0"]


def pytest_configure(config):
    """Ctrl+C handled as in a terminal's foreground job, however pytest was started: a shell
    script's `pytest &` starts it, and every process it starts, with Ctrl+C ignored, which
    the code under test keeps (src.interrupts.takes_ctrl_c) and the Ctrl+C tests then miss."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _schemas():
    register_configs()


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store, created by MLflow once per test process: its ~50
    schema migrations take 2-3 s, which every test that tracks a run would pay again."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("empty_store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def store_overrides(folder: Path) -> list[str]:
    return [f"tracking.uri=sqlite:///{folder}/mlflow.db", f"tracking.artifact_root={folder}/artifacts",
            "tracking.experiment=test"]


@pytest.fixture
def no_store(tmp_path):
    """Overrides that send tracking to a SQLite store under tmp_path that does not exist
    yet: for tests that check what creates it, or that nothing does."""
    return store_overrides(tmp_path)


@pytest.fixture
def store(tmp_path, empty_store):
    """Overrides that send tracking to a fresh, empty SQLite store under tmp_path."""
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    return store_overrides(tmp_path)


def make_cfg(*overrides: str, config_name: str = "config"):
    """What Hydra's compose returns, a copy of its own. Each compose costs about 0.2 s here
    (Hydra reads and merges some 25 files), and most of the quick suite's differed only in
    values such as a tmp_path store. So the config groups are composed once per process and
    the value overrides applied after, as Hydra itself applies them once the defaults are
    merged (`OmegaConf.update(cfg, key, value, merge=True)`, in order); anything that does
    not apply that way is composed whole, so Hydra raises its own error."""
    try:
        groups, values = _split(overrides)
        cfg = copy.deepcopy(_composed(config_name, groups))
        for key, value in values:
            OmegaConf.update(cfg, key, value, merge=True)
        return cfg
    except Exception:
        return copy.deepcopy(_composed(config_name, tuple(overrides)))


def _split(overrides: tuple[str, ...]) -> tuple[tuple[str, ...], list[tuple[str, object]]]:
    """(what selects config groups or adds or deletes keys, the plain `a.b=value` changes)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    groups, values, composed_keys = [], [], []
    for line, parsed in zip(overrides, OverridesParser.create().parse_overrides(list(overrides))):
        key = parsed.key_or_group
        if (parsed.type == OverrideType.CHANGE and parsed.package is None and not parsed.is_sweep_override()
                and "." in key and "/" not in key):
            values.append((key, parsed.value()))
        else:
            groups.append(line)
            composed_keys.append(key)
    # Hydra applies +, ++ and ~ in order with the plain changes: where one touches a key a plain
    # change also sets (or a parent or child of it), applying the plain change last could differ.
    if any(_nested(a, b) for a in composed_keys for b, _ in values):
        raise ValueError("an add or delete shares a key with a plain change")
    return tuple(groups), values


def _nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


@functools.lru_cache(maxsize=None)
def _composed(config_name: str, overrides: tuple[str, ...]):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose(config_name, overrides=list(overrides))


def write_csv(path: Path, rows: int = 200, seed: int = 0) -> Path:
    """A CSV shaped like a user's file: a date column and three numeric series."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=rows, freq="h").astype(str),
        "load": 100 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, rows),
        "price": 50 + 0.05 * t + rng.normal(0, 2, rows),
        "temp": 15 + 5 * np.cos(2 * np.pi * t / 24) + rng.normal(0, 0.5, rows),
    }).to_csv(path, index=False)
    return path


def tags_not_in_the_schema(runs) -> set[str]:
    """Tag keys on these MLflow runs that src.run_tags does not name: its constants, the
    best.<param> and versions.<package> families, MLflow's own mlflow.* tags."""
    from src import run_tags

    role_values = {"STUDY_RUN", "TRIAL", "BASELINE", "REPEAT", "COMPARISON"}
    named = {value for name, value in vars(run_tags).items()
             if name.isupper() and isinstance(value, str) and name not in role_values}
    families = ("mlflow.", run_tags.BEST_PREFIX, run_tags.VERSIONS_PREFIX)
    return {key for run in runs for key in run.data.tags if key not in named and not key.startswith(families)}


def run_cli(module: str, *args: str, cwd: Path = ROOT, timeout: float = 300):
    import subprocess

    # This tree's code, whatever the current folder and wherever the package is installed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def pytest_collection_modifyitems(config, items):
    """The longest work first: the modules that share a fixture on one process (xdist_group,
    minutes each), then the other end-to-end tests, then the quick ones. pytest-xdist hands
    out work in this order, so a long group no longer starts late and finishes alone while
    the other process has nothing left. The order within each kind is kept."""
    def kind(item) -> int:
        if item.get_closest_marker("xdist_group"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=kind)
