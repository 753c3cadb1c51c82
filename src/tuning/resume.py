"""What a study keeps from the run that created it, and the checks that a rerun resumes it
only as it was grown: the same settings and data, its trials (Optuna's storage) and its runs
(MLflow's store) both there, and a study new to a sweep on the sweep's data."""

import hashlib
import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from src import run_tags, services
from src.config import UserError, arch_options
from src.redact import redact
from src.tuning import approaches, studies
from src.tuning.space import parse_space

log = logging.getLogger(__name__)


# Keys added after sweeps were grown: at null they change nothing, so a study's settings
# (and the baselines' settings_hash) stay as they were stored.
LATER_KEYS = ("data.time_column", "data.source.time_column")


def settings(cfg: DictConfig) -> dict[str, str]:
    """What must not change while a study grows: data, splits, training budget, seed
    (the searched keys aside)."""
    from src.tracking import flatten

    searched = {spec.key for spec in parse_space(cfg.search.space).values() if spec.key}
    flat = flatten(cfg, only=("data", "train", "seed"))
    return {k: v for k, v in flat.items() if k not in searched and k != "train.verbose"
            and not (k in LATER_KEYS and v == "None")}


def settings_hash(values: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def search_classes(search: DictConfig) -> dict[str, str]:
    """The study run's sampler and pruner tags: {'sampler': 'TPESampler', 'pruner': ...}."""
    return {key: search[key]._target_.rsplit(".", 1)[-1] for key in (run_tags.SAMPLER, run_tags.PRUNER)}


def note_changed_search(client, run_id: str, study_name: str, search: DictConfig) -> None:
    """A study resumed with another sampler or pruner (they may change, unlike its settings):
    its run's tag names each in turn, e.g. "TPESampler, then RandomSampler". MLflow params
    cannot change, so its search.* params stay those of the run that created it."""
    tags = client.get_run(run_id).data.tags
    for key, now in search_classes(search).items():
        before = tags.get(key)
        if before and before.rsplit(", then ", 1)[-1] != now:
            client.set_tag(run_id, key, f"{before}, then {now}")
            log.warning("%s: resumed with %s (so far %s); its run's search.* params are those it "
                        "was created with", study_name, now, before)


def check_joins_its_sweep(cfg: DictConfig, storage, existing: set[str], fingerprint: str) -> None:
    """A study new to a sweep (another arch or stacking) must share the data and settings of
    the sweep's studies already there: the report compares them all on one split, and before
    this one on other data made every report of the sweep refuse to run."""
    import optuna

    from src.data.stacking import STACKINGS

    def shared(values: dict) -> dict:  # the stacking is each study's own
        return {k: v for k, v in values.items() if k != "data.stacking"}

    ours = {studies.study_name(cfg.search, approaches.label(arch, stacking))
            for arch in arch_options() for stacking in STACKINGS} & existing
    now = shared(settings(cfg))
    for name in sorted(ours):
        attrs = optuna.load_study(study_name=name, storage=storage).user_attrs
        if attrs.get("settings"):
            check_same_settings(name, shared(json.loads(attrs["settings"])), now, cfg.search)
            check_same_data(name, attrs.get("split_fingerprint"), fingerprint, cfg.search)
            return  # one suffices: each was checked against the others when it joined


def check_same_store(cfg: DictConfig, client, experiment_id: str, storage, arch: str,
                     existing: set[str]) -> None:
    """A study's trials live in Optuna's storage and its runs in MLflow: refuse, before
    anything is written, to go on when only one of the two is there (a deleted or
    replaced store), which would break the study or double its runs."""
    import optuna

    name = studies.study_name(cfg.search, arch)
    if name in existing:
        study = optuna.load_study(study_name=name, storage=storage)
        run_id = study.user_attrs.get("mlflow_parent_run_id")
        finished = studies.count(study, studies.FINISHED_STATES)
        if run_id and finished and not run_exists(client, run_id, experiment_id):
            raise runs_missing(cfg, name, finished)
        return
    if client.search_runs([experiment_id], run_tags.match(study=name), max_results=1):
        raise study_missing(cfg, name)


def check_stores_before_opening(cfg: DictConfig) -> None:
    """check_same_store's two refusals where one store is not there at all, made before this
    sweep would create it to look inside (a new SQLite store, or a new journal, was left
    behind): the journal has finished trials of the sweep's studies and the SQLite store is
    gone, or the store has the studies' runs and the journal is gone. Reads only."""
    search = cfg.search
    journal = Path(search.journal)
    store = services.sqlite_file(cfg.tracking.uri)
    if search.storage is not None or store is None:
        return  # a database or a server: looking creates nothing new
    names = [studies.study_name(search, a.label) for a in approaches.every(search)]
    store_there, journal_there = _has_content(store), _has_content(journal)
    if journal_there and not store_there:
        import optuna

        storage = studies.open_storage(search)
        existing = set(optuna.get_all_study_names(storage))
        for name in (n for n in names if n in existing):
            finished = studies.count(optuna.load_study(study_name=name, storage=storage), studies.FINISHED_STATES)
            if finished:
                raise runs_missing(cfg, name, finished)
    if store_there and not journal_there:
        from mlflow.tracking import MlflowClient

        from src.tracking import point_mlflow_at

        point_mlflow_at(cfg.tracking.uri)
        client = MlflowClient()
        experiment = client.get_experiment_by_name(cfg.tracking.experiment)
        for name in names if experiment else []:
            if client.search_runs([experiment.experiment_id], run_tags.match(study=name), max_results=1):
                raise study_missing(cfg, name)


def _has_content(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


FRESH = "or start afresh with search.name=<new name>"


def runs_missing(cfg: DictConfig, name: str, finished: int) -> UserError:
    return UserError(
        f"study '{name}' has {finished} finished trial(s) in "
        f"{studies.describe_storage(cfg.search)}, but its MLflow runs are not in "
        f"experiment '{cfg.tracking.experiment}' at {redact(cfg.tracking.uri)} (store deleted or "
        f"tracking.uri changed): point tracking.uri at the store that has them, {FRESH}")


def study_missing(cfg: DictConfig, name: str) -> UserError:
    return UserError(
        f"experiment '{cfg.tracking.experiment}' at {redact(cfg.tracking.uri)} already has runs of "
        f"study '{name}', but {studies.describe_storage(cfg.search)} has no such study "
        f"(journal deleted or search.storage changed): point search.journal or "
        f"search.storage at the original, {FRESH}")


def check_same_settings(name: str, before: dict, now: dict, search: DictConfig) -> None:
    """A key on one side only was searched on the other (a search.space entry added or
    dropped), which 'grown with train.learning_rate=None' misstated."""
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            was = f"{key}={before[key]}" if key in before else f"{key} searched"
            raise UserError(
                f"study '{name}' in {studies.describe_storage(search)} was grown with {was}, now "
                f"{now.get(key, 'searched')}: keep the settings to resume it, or start another "
                f"with search.name=<new name>")


def check_same_data(name: str, before: str | None, now: str, search: DictConfig) -> None:
    """The same settings can read other data: a CSV file that grew or changed since the
    study began. Its trials would then be selected on other validation windows than the
    earlier ones, and the report refuses to compare them."""
    if before is not None and before != now:
        raise UserError(
            f"study '{name}' in {studies.describe_storage(search)} was grown on other data (split "
            f"fingerprint {before}, now {now}: the file changed, or the windows): keep the data to "
            f"resume it, or start another with search.name=<new name>")


def run_exists(client, run_id: str, experiment_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return False
    return run.info.experiment_id == experiment_id and run.info.lifecycle_stage == "active"
