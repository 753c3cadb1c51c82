"""Typed schemas for the config groups and the checks Hydra cannot express.

The dataclasses are registered in Hydra's ConfigStore under `schema/` and every YAML in
`conf/` extends one of them, so a wrong type (`train.epochs=abc`) or an unknown key fails
when the config is composed. `validate` adds the value checks (positive sizes, known
options) and runs before any data is read or any MLflow run is created.
"""

import math
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import MISSING, DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"  # conf/: every option's YAML


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
class LinearArchConfig(BaselineArchConfig):
    # Ridge penalties tried, on the sum of squared errors over the training windows in the
    # model's units; the one with the lowest validation loss is kept (src.models.ridge).
    alphas: list[float] = field(default_factory=lambda: [0.0, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0])


@dataclass
class SeasonalNaiveArchConfig(BaselineArchConfig):
    period: int = 24              # steps per season; at most data.input_steps


@dataclass
class StatisticalArchConfig(BaselineArchConfig):
    season_length: int = 1        # steps per season; 1: no seasonal terms


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
    baselines: list[str] = field(default_factory=lambda: ["naive", "linear", "ets", "theta", "arima"])
    stackings: list[str] = field(default_factory=lambda: ["channels"])  # a study per arch and stacking
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
    folds: int = 1                # rolling-origin folds each repeat is tested on; 1: the sweep's split
    report_dir: str = "experiments/reports"
    forecast_windows: int = 3     # test windows drawn in forecasts.png
    register: bool = True         # the winner as <experiment>-<sweep>@champion in the registry


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
    # An earlier commit whose code the whole-process rows also run; None: this tree only.
    baseline: Optional[str] = None
    default_sweep: bool = True  # time a default `make sweep` (on the baseline's code too)


@dataclass
class ForecastDataConfig:
    path: Optional[str] = None          # a CSV; None: the embedded synthetic series
    time_column: Optional[str] = None   # None: a column named date, time, timestamp or ds


@dataclass
class SweepNameConfig:
    name: str = "sweep"


@dataclass
class ForecastAppConfig:
    """`python -m src.forecast`: its own config (conf/forecast.yaml), not the training one."""
    model: Optional[str] = None         # None: the champion of <tracking.experiment>-<search.name>
    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    windows: str = "last"               # last: the next horizon steps; all: backtest every window
    out_dir: str = "experiments/forecasts"
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    search: SweepNameConfig = field(default_factory=SweepNameConfig)


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


# The only callables a config may name by `_target_`. Configs can come back from a shared
# tracking store (compare, forecast), so nothing else is ever instantiated.
ALLOWED_TARGETS = ("src.models.", "src.data.sources.", "optuna.samplers.", "optuna.pruners.")


def targets(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(key, value) of every `_target_` in a config, nested ones included."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False)
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if key == "_target_":
                found.append((path, str(value)))
            else:
                found += targets(value, f"{path}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += targets(value, f"{prefix}{i}.")
    return found


def check_targets(node: Any, where: str = "") -> None:
    """UserError naming the first `_target_` outside ALLOWED_TARGETS."""
    for key, target in targets(node):
        if not target.startswith(ALLOWED_TARGETS):
            raise UserError(f"{where}{key}: '{target}' is not allowed; a _target_ must start "
                            f"with one of {', '.join(ALLOWED_TARGETS)}")


def build(node: DictConfig, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` of an allowed `_target_` (see ALLOWED_TARGETS); a UserError
    raised by the target comes through as is, a wrong argument as one line."""
    check_targets(node)
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        if isinstance(err.__cause__, TypeError):  # e.g. an unknown argument in data.source
            raise UserError(f"{node.get('_target_')}: {err.__cause__}") from None
        raise


# A stored arch config's schema, by the key only it has.
ARCH_SCHEMAS = (("units", RecurrentArchConfig), ("alphas", LinearArchConfig),
                ("period", SeasonalNaiveArchConfig), ("season_length", StatisticalArchConfig))


def load_stored(text: str, where: str) -> DictConfig:
    """A config read back from a tracking store, which others may write: plain YAML data
    (no interpolation, so no resolver runs), typed by the schemas, every `_target_` allowed.
    UserError naming `where` and the key otherwise."""
    import yaml
    from omegaconf.errors import OmegaConfBaseException

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"{where}: config.yaml is not YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict) \
            or not isinstance(data.get("arch"), dict):
        raise UserError(f"{where}: config.yaml is not a config of this project")
    for key, value in _leaves(data):
        if isinstance(value, str) and "${" in value:
            raise UserError(f"{where}: {key} holds an interpolation ({value!r}); a stored "
                            f"config must hold plain values")
    data_schema = SyntheticDataConfig if "n_series" in data["data"] else CsvDataConfig
    arch_schema = next((schema for key, schema in ARCH_SCHEMAS if key in data["arch"]), BaselineArchConfig)
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(AppConfig), {k: v for k, v in data.items()
                                                               if k not in ("data", "arch")})
        cfg.data = OmegaConf.merge(OmegaConf.structured(data_schema), data["data"])
        cfg.arch = OmegaConf.merge(OmegaConf.structured(arch_schema), data["arch"])
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "config"
        raise UserError(f"{where}: {key}: {str(err).splitlines()[0]}") from None
    check_targets(cfg, where=f"{where}: ")
    return cfg


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{prefix}{k}.")]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), node)]


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(group="schema/data", name="synthetic", node=SyntheticDataConfig)
    cs.store(group="schema/data", name="csv", node=CsvDataConfig)
    cs.store(group="schema/arch", name="recurrent", node=RecurrentArchConfig)
    cs.store(group="schema/arch", name="baseline", node=BaselineArchConfig)
    cs.store(group="schema/arch", name="linear", node=LinearArchConfig)
    cs.store(group="schema/arch", name="seasonal_naive", node=SeasonalNaiveArchConfig)
    cs.store(group="schema/arch", name="statistical", node=StatisticalArchConfig)
    cs.store(group="schema", name="train", node=TrainConfig)
    cs.store(group="schema", name="tracking", node=TrackingConfig)
    cs.store(group="schema", name="search", node=SearchConfig)
    cs.store(group="schema", name="compare", node=CompareConfig)
    cs.store(group="schema", name="bench", node=BenchConfig)
    cs.store(group="schema", name="app", node=AppConfig)
    cs.store(group="schema", name="forecast_app", node=ForecastAppConfig)


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


def unknown_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys that no schema declares (Hydra lets `+foo=1` add them to a typed config)."""
    found = []
    schema = OmegaConf.get_type(node)
    if is_dataclass(schema):
        known = {f.name for f in fields(schema)}
        found += [f"{prefix}{k}" for k in node.keys() if k not in known]
    for key in node.keys():
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not OmegaConf.is_missing(node, key) and \
                f"{prefix}{key}" not in found:
            found += unknown_keys(child, f"{prefix}{key}.")
    return found


SEED_RANGE = (0, 2**32 - 1)  # what Keras and NumPy accept


def _positive(node: DictConfig, where: str, keys: tuple[str, ...], minimum: int = 1) -> None:
    for key in keys:
        value = node[key]
        wanted = "a positive integer" if minimum == 1 else f"{minimum} or more"
        _require(value is not None and value >= minimum, f"{where}.{key} must be {wanted}, got {value}")


def _seed(value: int, key: str) -> None:
    _require(SEED_RANGE[0] <= value <= SEED_RANGE[1],
             f"{key} must lie between {SEED_RANGE[0]} and {SEED_RANGE[1]}, got {value}")


def _finite(value: float, key: str) -> None:
    _require(math.isfinite(value), f"{key} must be a finite number, got {value}")


def validate(cfg: DictConfig) -> None:
    """Value checks on a composed config; raises UserError naming the first problem.
    Every numeric field's range is checked here, before any data is read or any run or
    study exists."""
    unknown = unknown_keys(cfg)
    if unknown:
        raise UserError(f"{unknown[0]}: unknown key (no schema declares it); "
                        f"`python -m src.train --cfg job` prints every key")
    missing = _missing_keys(cfg)
    if missing:
        hint = " (the CSV file for data=csv)" if missing[0] == "data.path" else ""
        raise UserError(f"{missing[0]} must be set{hint}: add {missing[0]}=...")
    check_targets(cfg)
    data, train = cfg.data, cfg.train
    _positive(data, "data", ("input_steps", "horizon"))
    _require(data.stacking in STACKINGS,
             f"data.stacking must be one of {', '.join(STACKINGS)}; got '{data.stacking}'")
    _require(data.scaling in SCALINGS,
             f"data.scaling must be one of {', '.join(SCALINGS)}; got '{data.scaling}'")
    for key in ("val_fraction", "test_fraction"):
        _require(0 < data[key] < 1, f"data.{key} must lie between 0 and 1, got {data[key]}")
    _require(data.val_fraction + data.test_fraction < 1,
             "data.val_fraction + data.test_fraction must leave rows for training (< 1)")
    if "n_series" in data:
        _positive(data, "data", ("n_series", "n_windows"))
        _seed(data.seed, "data.seed")
        for key in ("trend", "noise", "coupling"):
            _finite(data[key], f"data.{key}")
        _require(data.noise >= 0, f"data.noise must be 0 or more, got {data.noise}")
    if "columns" in data and data.columns is not None:
        columns = [str(c) for c in data.columns]
        twice = sorted({c for c in columns if columns.count(c) > 1})
        _require(not twice, f"data.columns names {', '.join(twice)} more than once")
    _positive(train, "train", ("epochs", "batch_size", "steps_per_execution"))
    _positive(train, "train", ("patience",), minimum=0)
    _finite(train.learning_rate, "train.learning_rate")
    _require(train.learning_rate > 0,
             f"train.learning_rate must be positive, got {train.learning_rate}")
    _require(train.verbose in (None, 0, 1, 2), f"train.verbose must be 0, 1, 2 or null, got {train.verbose}")
    _seed(cfg.seed, "seed")
    _require(bool(cfg.tracking.experiment.strip()), "tracking.experiment must not be empty")
    _require(bool(cfg.tracking.uri.strip()), "tracking.uri must not be empty")
    _positive(cfg.tracking, "tracking", ("forecast_windows",))
    _validate_search(cfg.search)
    _positive(cfg.compare, "compare", ("repeats",), minimum=0)
    _positive(cfg.compare, "compare", ("folds",))
    _require(cfg.compare.folds == 1 or cfg.compare.repeats >= 1,
             f"compare.folds={cfg.compare.folds} needs compare.repeats of 1 or more: the folds "
             f"retrain each approach's selected configuration, and compare.repeats=0 retrains none")
    # Fold 0 must keep training rows (src.data.folds); the row count is checked with the data.
    _require(cfg.compare.folds * data.test_fraction + data.val_fraction < 1,
             f"compare.folds={cfg.compare.folds} test blocks of data.test_fraction={data.test_fraction} "
             f"and a validation block of data.val_fraction={data.val_fraction} leave no training rows "
             f"(they must sum to under 1): use fewer folds or a smaller data.test_fraction")
    _positive(cfg.compare, "compare", ("forecast_windows",))
    _positive(cfg.bench, "bench", tuple(f.name for f in fields(BenchConfig) if f.type is int))
    if "units" in cfg.arch:
        units = list(cfg.arch.units)
        _require(len(units) > 0, "arch.units needs at least one width, e.g. arch.units=[12,12,6]")
        _require(all(u > 0 for u in units),
                 f"arch.units must be positive widths, got {units}")
    _validate_baseline(cfg.arch, data)


def _validate_baseline(arch: DictConfig, data: DictConfig) -> None:
    if "alphas" in arch:
        alphas = list(arch.alphas)
        _require(len(alphas) > 0, "arch.alphas needs at least one ridge penalty, e.g. arch.alphas=[0,1,10]")
        _require(all(math.isfinite(a) and a >= 0 for a in alphas),
                 f"arch.alphas must be finite penalties of 0 or more, got {alphas}")
    if "period" in arch:
        _require(1 <= arch.period <= data.input_steps,
                 f"arch.period must lie between 1 and data.input_steps ({data.input_steps}): the "
                 f"seasonal naive forecast repeats the window's last season; got {arch.period}")
    if "season_length" in arch:
        _require(arch.season_length >= 1, f"arch.season_length must be a positive integer "
                                          f"(1: no seasonal terms), got {arch.season_length}")


def _validate_search(search: DictConfig) -> None:
    _positive(search, "search", ("n_trials", "workers", "max_failures", "heartbeat_interval"))
    _positive(search, "search", ("retries",), minimum=0)
    for key in ("threads_per_worker", "trials_per_process"):
        _require(search[key] is None or search[key] >= 1,
                 f"search.{key} must be at least 1 or null, got {search[key]}")
    # A live trial beats every heartbeat_interval; with less than two intervals of grace, one
    # late beat lets another worker fail a trial that is still running.
    _require(search.grace_period >= 2 * search.heartbeat_interval,
             f"search.grace_period ({search.grace_period} s) must be at least twice "
             f"search.heartbeat_interval ({search.heartbeat_interval} s)")
    _require(bool(str(search.name).strip()), "search.name must not be empty")
    for stacking in search.stackings:
        _require(stacking in STACKINGS, f"search.stackings: each must be one of "
                 f"{', '.join(STACKINGS)}; got '{stacking}'")
    _require(len(set(search.stackings)) == len(search.stackings) and search.stackings,
             f"search.stackings must name each stacking once, at least one; got {list(search.stackings)}")
