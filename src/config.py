"""Typed schemas for the config groups and the checks Hydra cannot express.

The dataclasses are registered in Hydra's ConfigStore under `schema/` and every YAML in
`conf/` extends one of them, so a wrong type (`train.epochs=abc`) or an unknown key fails
when the config is composed. `validate` adds the value checks (positive sizes, known
options) and runs before any data is read or any MLflow run is created.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import MISSING, DictConfig, OmegaConf


class UserError(Exception):
    """Bad input from the user: reported as one line, without a traceback."""


STACKINGS = ("channels", "samples")
SCALINGS = ("global", "window", "revin")


@dataclass
class DataConfig:
    input_steps: int = 40
    horizon: int = 10
    stacking: str = "channels"
    scaling: str = "window"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # The function that returns the raw series as a DataFrame (rows = time, columns = series).
    source: Any = MISSING


@dataclass
class SyntheticDataConfig(DataConfig):
    n_series: int = 2
    n_windows: int = 1200
    trend: float = 0.0
    noise: float = 1.0
    coupling: float = 0.3
    seed: int = 0


@dataclass
class CsvDataConfig(DataConfig):
    path: str = MISSING
    columns: Optional[list[str]] = None


@dataclass
class RecurrentArchConfig:
    _target_: str = MISSING
    name: str = MISSING
    # One width per recurrent layer; for seq2seq the encoder's, mirrored by the decoder.
    units: list[int] = field(default_factory=lambda: [12, 12, 6])


@dataclass
class BaselineArchConfig:
    _target_: str = MISSING
    name: str = MISSING


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 5
    jit_compile: Optional[bool] = None   # None: XLA on CPU-only machines (src.training.use_xla)
    steps_per_execution: int = 8
    # None: Keras's progress bar on a terminal, one line per epoch otherwise.
    verbose: Optional[int] = None


@dataclass
class TrackingConfig:
    uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    experiment: str = "many2many"
    log_model: bool = True
    forecast_windows: int = 3


@dataclass
class ParamSpec:
    """One searched parameter: type int or float over [low, high] (log scale optional,
    step optional), or categorical over `choices`. `key` is the config key it sets;
    depth, units and taper have none: together they set arch.units."""
    type: str = MISSING
    key: Optional[str] = None
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: Optional[list[Any]] = None


@dataclass
class SearchConfig:
    name: str = "sweep"                   # studies are named <name>-<arch>
    archs: list[str] = field(default_factory=lambda: ["reshape_head", "timedistributed", "seq2seq"])
    baselines: list[str] = field(default_factory=lambda: ["naive", "linear"])
    n_trials: int = 12                    # per study, in total over every run and worker
    workers: int = 1
    threads_per_worker: Optional[int] = None  # None: CPU cores / workers
    trials_per_process: Optional[int] = 1     # a fresh worker process after this many; None: never
    storage: Optional[str] = None         # None: the journal file below; else a database URL
    journal: str = "experiments/optuna/journal.log"
    max_failures: int = 5                 # a study stops after this many failed trials
    retries: int = 1                      # times a trial whose worker died is retried
    heartbeat_interval: int = 10          # seconds; database storage only
    grace_period: int = 60                # seconds without heartbeat before a trial is failed
    sampler: Any = MISSING
    pruner: Any = MISSING
    # name -> ParamSpec; checked against ParamSpec by src.search.space.parse_space, since
    # OmegaConf cannot add entries to a typed dict from the command line.
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompareConfig:
    repeats: int = 3              # fresh seeds per approach's best configuration; 0: none
    report_dir: str = "experiments/reports"
    forecast_windows: int = 3     # test windows drawn in forecasts.png


@dataclass
class BenchConfig:
    repeats: int = 3            # medians over this many alternated repeats
    epochs: int = 30            # training-speed runs, early stopping off
    ablation_epochs: int = 10   # XLA-off and untracked variants: only their warm epochs count
    sweep_windows: int = 600    # data for the sweep measurements
    throughput_trials: int = 6
    throughput_epochs: int = 8
    pruning_trials: int = 10
    pruning_epochs: int = 15
    memory_trials: int = 20
    out_dir: str = "experiments/bench"


@dataclass
class AppConfig:
    data: Any = MISSING
    arch: Any = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    seed: int = 42
    run_name: Optional[str] = None


def build(node: DictConfig, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` that lets a UserError raised by the target through as is."""
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        raise


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(group="schema/data", name="synthetic", node=SyntheticDataConfig)
    cs.store(group="schema/data", name="csv", node=CsvDataConfig)
    cs.store(group="schema/arch", name="recurrent", node=RecurrentArchConfig)
    cs.store(group="schema/arch", name="baseline", node=BaselineArchConfig)
    cs.store(group="schema", name="train", node=TrainConfig)
    cs.store(group="schema", name="tracking", node=TrackingConfig)
    cs.store(group="schema", name="search", node=SearchConfig)
    cs.store(group="schema", name="compare", node=CompareConfig)
    cs.store(group="schema", name="bench", node=BenchConfig)
    cs.store(group="schema", name="app", node=AppConfig)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _missing_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys still `???`, without resolving interpolations (which would raise on them)."""
    found = []
    for key in node.keys():
        path = f"{prefix}{key}"
        if OmegaConf.is_missing(node, key):
            found.append(path)
        elif isinstance(node._get_node(key), DictConfig):
            found += _missing_keys(node._get_node(key), f"{path}.")
    return found


def validate(cfg: DictConfig) -> None:
    """Value checks on a composed config; raises UserError naming the first problem."""
    missing = _missing_keys(cfg)
    if missing:
        hint = " (the CSV file for data=csv)" if missing[0] == "data.path" else ""
        raise UserError(f"{missing[0]} must be set{hint}: add {missing[0]}=...")
    data, train = cfg.data, cfg.train
    for key in ("input_steps", "horizon"):
        _require(data[key] > 0, f"data.{key} must be a positive integer, got {data[key]}")
    _require(data.stacking in STACKINGS,
             f"data.stacking must be one of {', '.join(STACKINGS)}; got '{data.stacking}'")
    _require(data.scaling in SCALINGS,
             f"data.scaling must be one of {', '.join(SCALINGS)}; got '{data.scaling}'")
    for key in ("val_fraction", "test_fraction"):
        _require(0 < data[key] < 1, f"data.{key} must lie between 0 and 1, got {data[key]}")
    _require(data.val_fraction + data.test_fraction < 1,
             "data.val_fraction + data.test_fraction must leave rows for training (< 1)")
    if "n_series" in data:
        _require(data.n_series > 0, f"data.n_series must be positive, got {data.n_series}")
        _require(data.n_windows > 0, f"data.n_windows must be positive, got {data.n_windows}")
    for key in ("epochs", "batch_size", "patience", "steps_per_execution"):
        _require(train[key] > 0, f"train.{key} must be a positive integer, got {train[key]}")
    _require(train.learning_rate > 0,
             f"train.learning_rate must be positive, got {train.learning_rate}")
    if "units" in cfg.arch:
        units = list(cfg.arch.units)
        _require(len(units) > 0, "arch.units needs at least one width, e.g. arch.units=[12,12,6]")
        _require(all(u > 0 for u in units),
                 f"arch.units must be positive widths, got {units}")
