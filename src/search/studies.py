"""Optuna storage and studies: opening them, claiming trial slots without overshooting the
target, and failing the trials of workers that died."""

import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
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

# A trial holds a slot of the study's target while it is waiting, running or finished
# (complete or pruned). Failed trials hold none: another trial takes their place.
SLOT_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def describe_storage(search: DictConfig) -> str:
    """Where the studies live, without a password."""
    return redact(search.storage) if search.storage else f"journal:{Path(search.journal).resolve()}"


@contextmanager
def known_warnings_ignored() -> Iterator[None]:
    """Optuna warns about what this module does on purpose: its experimental heartbeat
    arguments and retry callback, and heartbeats outside Study.optimize (heartbeat()
    below beats for each trial itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
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
    with known_warnings_ignored():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=search.retries)
        return optuna.storages.RDBStorage(
            search.storage,
            heartbeat_interval=search.heartbeat_interval,
            grace_period=search.grace_period,
            heartbeat_stale_trial_callback=retry,
        )


class ClaimsLock:
    """Serialises claiming trial slots, creating studies and training baselines among
    every process that shares the storage: a file lock beside the journal on one machine,
    or a PostgreSQL advisory lock, which the server releases if its holder dies, across
    machines."""

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
            return Path(f"{self.search.journal}.claims.lock")
        digest = hashlib.sha256(self.search.storage.encode()).hexdigest()[:12]
        return Path(self.search.journal).parent / f"claims-{digest}.lock"


def study_name(search: DictConfig, arch: str) -> str:
    return f"{search.name}-{arch}"


def build_sampler(search: DictConfig, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """The configured sampler; a seeded one gets `seed + seed_offset`, so parallel workers
    and resumed runs do not all draw the same first suggestions."""
    overrides = {}
    if search.sampler.get("seed") is not None:
        overrides["seed"] = int(search.sampler.seed) + seed_offset
    return _build_optuna(search.sampler, "search.sampler", **overrides)


def build_pruner(search: DictConfig) -> optuna.pruners.BasePruner:
    return _build_optuna(search.pruner, "search.pruner")


def _build_optuna(node: DictConfig, where: str, **kwargs):
    try:
        return build(node, **kwargs)
    except Exception as err:  # unknown class or bad argument
        cause = err.__cause__ or err
        raise UserError(f"{where}: cannot build {node.get('_target_')}: "
                        f"{str(cause).splitlines()[0]}") from None


def open_study(search: DictConfig, storage, arch: str, seed_offset: int = 0) -> optuna.Study:
    return optuna.create_study(study_name=study_name(search, arch), storage=storage,
                               sampler=build_sampler(search, seed_offset),
                               pruner=build_pruner(search), direction="minimize",
                               load_if_exists=True)


def count(study: optuna.Study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


# --- trials of dead workers ---------------------------------------------------------

def _process_start(pid: int) -> str | None:
    """Start time of a process from /proc (None where it is gone), so a reused pid is
    not mistaken for the worker that died."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_attrs() -> dict[str, str]:
    pid = os.getpid()
    return {"worker_host": socket.gethostname(), "worker_pid": str(pid),
            "worker_start": str(_process_start(pid))}


def _owner_is_dead(attrs: dict) -> bool:
    if attrs.get("worker_host") != socket.gethostname() or "worker_pid" not in attrs:
        return False  # another machine's worker: only heartbeats can tell
    return _process_start(int(attrs["worker_pid"])) != attrs.get("worker_start")


def fail_orphans(study: optuna.Study, retries: int) -> list[optuna.trial.FrozenTrial]:
    """Fail RUNNING trials whose worker is gone, and queue a retry of each (up to
    `retries` times). Database storage keeps heartbeats, so a trial is failed once its
    worker, on any machine, has been silent for the grace period; the journal file has
    none, so there a trial is failed when its worker's process on this machine is gone."""
    if _has_heartbeats(study._storage):
        with known_warnings_ignored():
            optuna.storages.fail_stale_trials(study)  # runs the storage's retry callback
        return []
    with known_warnings_ignored():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=retries)
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _owner_is_dead(trial.user_attrs):
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process got there first
        frozen = study._storage.get_trial(trial._trial_id)
        retry(study, frozen)
        failed.append(frozen)
    return failed


def _has_heartbeats(storage) -> bool:
    return bool(getattr(storage, "get_heartbeat_interval", lambda: None)())


@contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Beat for the trial while it runs, where the storage keeps heartbeats."""
    storage = study._storage
    if not _has_heartbeats(storage):
        yield
        return
    interval = storage.get_heartbeat_interval()
    stop = threading.Event()

    def beat():
        while not stop.is_set():
            try:
                storage.record_heartbeat(trial._trial_id)
            except Exception:  # the database went away: the trial's own calls will say so
                return
            stop.wait(interval)

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
