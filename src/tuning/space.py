"""The search space from `search.space`: checked up front, sampled into config overrides."""

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from src.config import ParamSpec, UserError, trained_by_gradient

SHAPE_PARAMS = ("depth", "units", "taper")  # together they set arch.units
TYPES = ("int", "float", "categorical")
_ABSENT = object()


def parse_space(space: DictConfig, where: str = "search.space") -> dict[str, ParamSpec]:
    """Each entry of a space (search.space, or an arch's own arch.space) as a ParamSpec; an
    unknown field or a wrong type is a UserError naming the entry."""
    specs = {}
    for name, raw in space.items():
        try:
            specs[str(name)] = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ParamSpec), raw))
        except OmegaConfBaseException as err:
            raise UserError(f"{where}.{name}: {str(err).splitlines()[0]}") from None
    return specs


# The one data setting a trial may change: every scaling sees the same windows, and the loss
# is the same normalised MSE under each (src.data.scaling).
SEARCHABLE_DATA_KEYS = ("data.scaling",)


def check_space(space: DictConfig, cfg: DictConfig, where: str = "search.space") -> dict[str, ParamSpec]:
    """The parsed space, or a UserError naming the first bad entry: unknown parameter or
    type, a config key that does not exist, low > high, a log scale through zero, no choices."""
    specs = parse_space(space, where)
    for name, spec in specs.items():
        entry = f"{where}.{name}"
        if spec.type not in TYPES:
            raise UserError(f"{entry}.type must be one of {', '.join(TYPES)}; got '{spec.type}'")
        if spec.key is None and name not in SHAPE_PARAMS:
            raise UserError(f"{entry}: unknown parameter; {', '.join(SHAPE_PARAMS)} shape "
                            f"arch.units, any other needs key: <config key> (e.g. train.learning_rate)")
        if spec.key is not None and where == "search.space" and spec.key.startswith("arch."):
            # Checked against the default arch only, it refused a key the searched archs have,
            # or passed one they lack (their every trial failed).
            raise UserError(f"{entry}.key: {spec.key} is an arch's own setting, and search.space applies "
                            f"to every study: put the entry in that arch's arch.space "
                            f"(conf/arch/<arch>.yaml), which only its study searches")
        if spec.key is not None:
            node = OmegaConf.select(cfg, spec.key, default=_ABSENT)
            if node is _ABSENT:
                raise UserError(f"{entry}.key: no config key '{spec.key}' to set")
            if isinstance(node, DictConfig):
                raise UserError(f"{entry}.key: '{spec.key}' is a section, not a value; name one of "
                                f"its keys (a config group's option is not searched)")
            if spec.key.startswith("data.") and spec.key not in SEARCHABLE_DATA_KEYS:
                hint = "search.stackings=[...]" if spec.key == "data.stacking" else "a sweep per value (search.name=...)"
                raise UserError(f"{entry}.key: searching {spec.key} would score each trial on other "
                                f"windows or splits, and a study would select its best trial across "
                                f"different validation data; compare its values with {hint}")
        if spec.type == "categorical":
            if not spec.choices:
                raise UserError(f"{entry}: a categorical parameter needs a non-empty list of choices")
            continue
        if spec.low is None or spec.high is None:
            raise UserError(f"{entry}: an {spec.type} parameter needs low and high")
        for field in ("low", "high", "step"):
            value = getattr(spec, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise UserError(f"{entry}.{field} must be a number, got {value!r}")
        if spec.step is not None and (spec.log or spec.step <= 0):
            raise UserError(f"{entry}.step: " + ("Optuna takes no step on a log scale" if spec.log
                                                   else f"must be positive, got {spec.step}"))
        if spec.low > spec.high:
            raise UserError(f"{entry}: low ({spec.low}) is greater than high ({spec.high})")
        if spec.log and spec.low <= 0:
            raise UserError(f"{entry}: a log scale needs low > 0, got {spec.low}")
        if spec.type == "int" and not all(float(v).is_integer() for v in (spec.low, spec.high, spec.step or 1)):
            raise UserError(f"{entry}: an int parameter needs integer low, high and step")
    for name in ("depth", "units"):
        spec = specs.get(name)
        if spec is None:
            continue
        if spec.type == "float":  # a float depth failed every trial (range() of a float)
            raise UserError(f"{where}.{name}.type: {name} is a count: int or categorical, not float")
        if spec.type != "categorical" and spec.low < 1:
            raise UserError(f"{where}.{name}: low must be at least 1")
        if spec.type == "categorical" and any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                                              for v in spec.choices):
            raise UserError(f"{where}.{name}: each choice must be an integer of at least 1")
    for name, spec in specs.items():
        if spec.key is not None:
            _check_values(f"{where}.{name}", spec, cfg)
    return specs


def _check_values(entry: str, spec: ParamSpec, cfg: DictConfig) -> None:
    """Each choice, or low and high, set on the config as a trial would set it: a value the
    config refuses (its type, or validate's ranges) is a UserError now, not a failed trial
    each time it is drawn."""
    from src.config import validate

    values = list(spec.choices) if spec.type == "categorical" else [spec.low, spec.high]
    if spec.type == "float":  # a fraction too: bounds of 2 and 5 passed an int key's check
        values.append(spec.low + (spec.high - spec.low) * 0.37)
    for value in values:
        value = int(value) if spec.type == "int" else value
        trial_cfg = cfg.copy()
        try:
            OmegaConf.update(trial_cfg, spec.key, value, merge=False)
            validate(trial_cfg)
        except OmegaConfBaseException as err:
            raise UserError(f"{entry}: {value!r} cannot be {spec.key}: {str(err).splitlines()[0]}") from None
        except UserError as err:
            raise UserError(f"{entry}: {value!r} is refused: {err}") from None


def approach_space(cfg: DictConfig) -> dict[str, ParamSpec]:
    """What a study of cfg.arch searches: the entries of search.space that apply to it
    (depth, units and taper only where its config has arch.units, train.* keys only where it
    is trained by gradient), then the arch's own arch.space (checked; an entry there
    replaces a search.space entry of the same name)."""
    has_units, by_gradient = "units" in cfg.arch, trained_by_gradient(cfg.arch)

    def applies(spec: ParamSpec) -> bool:
        return has_units if spec.key is None else by_gradient or not spec.key.startswith("train.")

    shared = {name: spec for name, spec in parse_space(cfg.search.space).items() if applies(spec)}
    return {**shared, **check_space(cfg.arch.get("space") or {}, cfg, where="arch.space")}


def _suggest(trial, name: str, spec: ParamSpec) -> Any:
    if spec.type == "categorical":
        return trial.suggest_categorical(name, list(spec.choices))
    if spec.type == "int":
        return trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log,
                                 step=int(spec.step or 1))
    return trial.suggest_float(name, float(spec.low), float(spec.high), log=spec.log,
                               step=None if spec.step is None else float(spec.step))


def widths(depth: int, units: int, taper: float) -> list[int]:
    """round(units * taper**i) cells in layer i, at least one."""
    return [max(1, int(round(units * taper**i))) for i in range(depth)]


def suggest(trial, space: dict[str, ParamSpec], base_units: list[int] | None) -> dict[str, Any]:
    """Sample every parameter: {config key: value}, e.g. {'arch.units': [32, 16],
    'train.learning_rate': 0.0012}. base_units is None for an arch without recurrent
    layers, which then ignores depth, units and taper."""
    values, shape = {}, {}
    for name, spec in space.items():
        if spec.key is None:
            if base_units is not None:
                shape[name] = _suggest(trial, name, spec)
            continue
        values[spec.key] = _suggest(trial, name, spec)
    if shape:
        units = widths(shape.get("depth", len(base_units)),
                       shape.get("units", base_units[0]),
                       shape.get("taper", 1.0))
        values = {"arch.units": units, **values}
    return values


def as_overrides(values: dict[str, Any]) -> list[str]:
    """The sampled values as Hydra overrides, e.g. ['arch.units=[32,16]', 'train.learning_rate=0.0012']."""
    return [f"{key}={_format(value)}" for key, value in values.items()]


def _format(value: Any) -> str:
    """As Hydra's grammar reads it back: null, true and false (Python's None, True and False
    were read as text, and a trial's `reproduce` command was refused)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, list):
        return f"[{','.join(map(_format, value))}]"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)
