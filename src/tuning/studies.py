"""Optuna storage and studies: opening them, the lock that serialises setting a sweep up,
and failing (then retrying) the trials of workers that died."""

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import optuna
from omegaconf import DictConfig
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from src.config import UserError, build
from src.redact import redact

log = logging.getLogger(__name__)

# What counts towards a study's target: failed trials do not, another takes their place.
FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def describe_storage(search: DictConfig) -> str:
    """Where the studies live, without a password."""
    return redact(search.storage) if search.storage else f"journal:{Path(search.journal).resolve()}"


@contextmanager
def known_warnings_ignored() -> Iterator[None]:
    """Optuna marks its heartbeat arguments and retry callback experimental."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def repair_journal(path: Path) -> None:
    """A crash mid-write leaves a partial last record, and Optuna then refuses every study
    in the file. Like a database's write-ahead log, drop that record with one warning; a
    corrupt record anywhere else is a UserError naming the file and line. Runs under the
    lock Optuna's own writers take, so a record being written is never cut."""
    if not path.exists() or path.stat().st_size == 0:
        return
    lock = optuna.storages.journal.JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        content = path.read_bytes()
        complete = content.rfind(b"\n") + 1  # bytes up to and with the last newline
        for number, line in enumerate(content[:complete].splitlines(), start=1):
            try:
                json.loads(line)
            except ValueError:
                raise UserError(f"{path}: line {number} is not a journal record (corrupt); restore "
                                f"the file from a backup, or use another search.journal") from None
        if complete < len(content):
            with open(path, "r+b") as handle:
                handle.truncate(complete)
            log.warning("%s: dropped a partial last record (%d bytes) left by an interrupted "
                        "write; every study in the file resumes", path, len(content) - complete)
    finally:
        lock.release()


def open_storage(search: DictConfig) -> optuna.storages.BaseStorage:
    """The journal file by default (safe for several processes on one machine), or the
    database at `search.storage`, with heartbeats so dead workers' trials are failed."""
    if search.storage is None:
        path = Path(search.journal)
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_journal(path)
        backend = optuna.storages.journal.JournalFileBackend(str(path))
        return optuna.storages.JournalStorage(backend)
    # Under the set-up lock: two sweeps started together on a fresh database would both
    # create Optuna's tables, and PostgreSQL refuses the second CREATE TYPE.
    with known_warnings_ignored(), SetupLock(search).held():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=search.retries)
        return optuna.storages.RDBStorage(
            search.storage,
            heartbeat_interval=search.heartbeat_interval,
            grace_period=search.grace_period,
            heartbeat_stale_trial_callback=retry,
        )


class SetupLock:
    """Serialises setting a sweep up (creating studies and their parent runs, training the
    baselines) and failing dead workers' trials, among every process that shares the
    storage: a file lock beside the journal on one machine, or a PostgreSQL advisory lock,
    which the server releases if its holder dies, across machines. Trials themselves run
    without it."""

    ADVISORY_KEY = 0x6D616E7932  # any fixed 64-bit number; "many2" in ASCII

    def __init__(self, search: DictConfig):
        self.search = search
        self._engine = None
        if search.storage and search.storage.startswith("postgresql"):
            import sqlalchemy

            self._engine = sqlalchemy.create_engine(search.storage, poolclass=sqlalchemy.pool.NullPool)

    def held(self):
        """A context manager holding the lock."""
        return self._advisory_lock() if self._engine is not None else self._file_lock()

    @contextmanager
    def _advisory_lock(self) -> Iterator[None]:
        import sqlalchemy

        with self._engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": self.ADVISORY_KEY})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": self.ADVISORY_KEY})

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        path = self._path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _path(self) -> Path:
        if self.search.storage is None:
            return Path(f"{self.search.journal}.setup.lock")
        digest = hashlib.sha256(self.search.storage.encode()).hexdigest()[:12]
        return Path(self.search.journal).parent / f"setup-{digest}.lock"


def study_name(search: DictConfig, approach: str) -> str:
    """`<search.name>-<approach label>` (src.tuning.approaches.label)."""
    return f"{search.name}-{approach}"


# Packages Optuna imports only at a sampler's first non-random suggestion: without them a
# sweep ran its random start-up trials, then failed every other one and exited 0.
SAMPLER_PACKAGES = {"optuna.samplers.CmaEsSampler": ["cmaes"], "optuna.samplers.GPSampler": ["torch", "scipy"],
                    "optuna.samplers.QMCSampler": ["scipy"]}


def check_sampler_packages(sampler: DictConfig) -> None:
    """UserError naming the packages the configured sampler needs and this machine lacks."""
    target = sampler.get("_target_")
    missing = [name for name in SAMPLER_PACKAGES.get(target, []) if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"search.sampler: {target.rsplit('.', 1)[-1]} needs {', '.join(missing)}, "
                        f"not installed here: pip install {' '.join(missing)}")


def build_sampler(search: DictConfig, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """The configured sampler; a seeded one gets `seed + seed_offset`, so parallel workers
    and resumed runs do not all draw the same first suggestions. Wrapped round 2**32, the
    samplers' limit: a seed near it passed the sweep's check and then stopped every worker."""
    overrides = {}
    if search.sampler is not None and search.sampler.get("seed") is not None:
        # GridSampler orders its grid by the seed and takes each trial's point by its grid
        # id: with a seed of its own per process, two processes ran one point twice.
        grid = search.sampler._target_ == "optuna.samplers.GridSampler"
        overrides["seed"] = int(search.sampler.seed) + (0 if grid else seed_offset)
        if 0 <= int(search.sampler.seed) < 2**32:  # one out of range is the sampler's to refuse
            overrides["seed"] %= 2**32
    return _build_optuna(search.sampler, "search.sampler", **overrides)


def build_pruner(search: DictConfig) -> optuna.pruners.BasePruner:
    return _build_optuna(search.pruner, "search.pruner")


def _build_optuna(node: DictConfig, where: str, **kwargs):
    if node is None:  # build(None) is None, and Optuna would then pick its own default
        kind = "samplers.TPESampler" if where.endswith("sampler") else "pruners.NopPruner"
        raise UserError(f"{where} cannot be null: name a class, e.g. "
                        f"{where}._target_=optuna.{kind} (with ~ on the arguments it does not take)")
    try:
        return build(node, **kwargs)
    except Exception as err:  # unknown class or bad argument
        cause = err.__cause__ or err
        raise UserError(f"{where}: cannot build {node.get('_target_')}: "
                        f"{str(cause).splitlines()[0]}") from None


def open_study(search: DictConfig, storage, approach: str, seed_offset: int = 0) -> optuna.Study:
    return optuna.create_study(study_name=study_name(search, approach), storage=storage,
                               sampler=build_sampler(search, seed_offset),
                               pruner=build_pruner(search), direction="minimize",
                               load_if_exists=True)


def count(study: optuna.Study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


INTERRUPTED = "interrupted"  # user attribute of a trial stopped by Ctrl+C (src.tuning.worker)


def own_failures(study: optuna.Study) -> int:
    """Failed trials that count against `search.max_failures`: those that failed on their
    own. Not a trial stopped by Ctrl+C, nor one whose worker died (it has a retry): five
    of those once stopped a study for good, though rerunning is how a sweep resumes."""
    trials = study.get_trials(deepcopy=False)
    with known_warnings_ignored():
        retried = {RetryHeartbeatStaleTrialCallback.retried_trial_number(t) for t in trials}
    return sum(t.state == TrialState.FAIL and t.number not in retried and not t.user_attrs.get(INTERRUPTED)
               for t in trials)


# --- trials of dead workers ---------------------------------------------------------
# With database storage, Optuna's heartbeats find them on any machine: Study.optimize beats
# for each trial, and fail_stale_trials fails a silent one and queues its retry through the
# storage's callback. The journal file (one machine) has no heartbeats: there a trial is
# failed once its worker's process is gone, by the coordinator that saw it die, by another
# worker, or by a rerun after the whole sweep was killed.

def _process_start(pid: int) -> str | None:
    """Start time of a process from /proc (None where it is gone), so a reused pid is
    not mistaken for the worker that died."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_attrs(number: int) -> dict[str, str]:
    """Who runs trial `number`: set on it as user attributes when it starts. The number is
    part of it because a retry inherits the failed trial's attributes."""
    pid = os.getpid()
    return {"worker_host": socket.gethostname(), "worker_pid": str(pid),
            "worker_start": str(_process_start(pid)), "worker_trial": str(number)}


def _owner_is_dead(trial: optuna.trial.FrozenTrial) -> bool:
    attrs = trial.user_attrs
    if attrs.get("worker_trial") != str(trial.number) or attrs.get("worker_host") != socket.gethostname():
        return False  # not yet claimed by its worker, or another machine's: heartbeats tell
    return _process_start(int(attrs["worker_pid"])) != attrs.get("worker_start")


def fail_and_retry(study: optuna.Study, number: int, retries: int) -> bool:
    """Fail RUNNING trial `number` and queue a retry with the same parameters (up to
    `retries` times); False when it had already ended."""
    try:
        study.tell(number, state=TrialState.FAIL)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
        return False  # it finished, or another process failed it first
    with known_warnings_ignored():
        RetryHeartbeatStaleTrialCallback(max_retry=retries)(study, study.get_trials(deepcopy=False)[number])
    return True


def fail_dead_trials(study: optuna.Study, search: DictConfig) -> list[int]:
    """Fail the trials whose worker is gone and queue their retries (up to
    `search.retries`); returns their numbers. Database storage: those silent for the grace
    period, on any machine (Optuna's heartbeats); the journal file: those whose process on
    this machine is gone."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if search.storage is not None:
        with known_warnings_ignored():
            optuna.storages.fail_stale_trials(study)  # retries through the storage's callback
        now = study.get_trials(deepcopy=False)
        return [t.number for t in running if now[t.number].state == TrialState.FAIL]
    return [t.number for t in running
            if _owner_is_dead(t) and fail_and_retry(study, t.number, search.retries)]
