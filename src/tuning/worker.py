"""A sweep worker: a process that runs trials across the studies, always in the study with
the fewest, so every approach gets the same budget even when a sweep is cut short.

Workers are started by `src.tuning.supervisor` (one or several, same code either way); each trial
runs through Optuna's Study.optimize.
"""

import contextlib
import gc
import logging
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from src import run_tags
from src.config import ParamSpec
from src.interrupts import Interrupt, takes_ctrl_c
from src.redact import redact_logging
from src.services import describe_unavailable, is_unavailable
from src.tuning import studies
from src.tuning.approaches import Approach
from src.tuning.space import approach_space

log = logging.getLogger(__name__)
EXIT_SERVICE_LOST = 3
EXIT_INTERRUPTED = 130  # Ctrl+C: its trial was marked failed and its run closed
EXIT_RECYCLE = 75  # ran its share of trials and more are left: the coordinator starts a fresh one
WAIT_SECONDS = 2.0  # between looks at other workers' running trials, once nothing is left to claim


@dataclass(frozen=True)
class StudyJob:
    """What every trial of one study shares."""
    approach: Approach           # the arch config option and the stacking
    cfg: DictConfig              # the sweep's config with the approach's options: trials start from it
    space: dict[str, ParamSpec]   # what its trials search (src.tuning.space.approach_space)
    parent_run_id: str
    tags: dict[str, str]

    @property
    def base_units(self) -> list[int] | None:
        """The option's own arch.units; None for an arch without recurrent layers."""
        return list(self.cfg.arch.units) if "units" in self.cfg.arch else None


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker is started with. The configs come composed by the coordinator: a fresh
    process per trial composed the sweep's and each study's again (0.4 s of each trial on a
    tiny sweep)."""
    index: int
    cfg: DictConfig       # the sweep's config
    overrides: list[str]  # the sweep's command-line overrides, for each trial's reproduce command
    threads: int          # TensorFlow threads for this process
    jobs: list[StudyJob]  # the studies to run (study_jobs)
    max_trials: int | None = None  # then exit with EXIT_RECYCLE; None: run until nothing is left


def study_jobs(cfg: DictConfig, planned: dict[Approach, DictConfig], parent_runs: dict[str, str]) -> list[StudyJob]:
    """A StudyJob per planned approach (its composed config, src.sweep.plan_approaches) with
    its study's parent run."""
    return [StudyJob(approach=approach, cfg=approach_cfg, space=approach_space(approach_cfg),
                     parent_run_id=parent_runs[approach.label],
                     tags={run_tags.SWEEP: cfg.search.name,
                           run_tags.STUDY: studies.study_name(cfg.search, approach.label)})
            for approach, approach_cfg in planned.items()]


def resident_mb() -> float:
    """This process's resident memory now (Linux /proc), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_resident_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux


def set_threads(threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    # Workers sharing a GPU: each takes GPU memory as it needs it, not all of it at once.
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def worker_process(spec: WorkerSpec, events) -> None:
    """Entry point of a spawned worker process. Ctrl+C is acted on where stopping is safe:
    between batches and epochs, and before each trial (src.interrupts.Interrupt)."""
    interrupt = Interrupt()
    if takes_ctrl_c():  # not where the sweep was started with Ctrl+C ignored
        signal.signal(signal.SIGINT, interrupt.handle)
    # Optuna logs a failed trial's traceback as a warning; the worker reports every trial's
    # outcome in one line itself (the FAILED run in MLflow keeps the traceback).
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    redact_logging()  # a process of its own: the coordinator's setting does not reach it
    set_threads(spec.threads)
    more = False
    try:
        more = run_worker(spec, events, interrupt)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        if not is_unavailable(err):
            raise  # a bug: Python prints the traceback
        events.put({"kind": "error", "worker": spec.index, "message": describe_unavailable(err)})
        sys.exit(EXIT_SERVICE_LOST)
    if more:
        sys.exit(EXIT_RECYCLE)


def load_jobs(storage, spec: WorkerSpec) -> list[tuple[StudyJob, optuna.Study]]:
    return [(job, studies.open_study(spec.cfg.search, storage, job.approach.label,
                                     seed_offset=_seed_offset(spec, storage, job)))
            for job in spec.jobs]


def _seed_offset(spec: WorkerSpec, storage, job: StudyJob) -> int:
    """Distinct per worker and per resumption, so no two processes replay one draw."""
    study = optuna.load_study(study_name=job.tags[run_tags.STUDY], storage=storage)
    return 1000 * spec.index + len(study.get_trials(deepcopy=False))


WAIT = "wait"


def next_study(jobs, search: DictConfig, lock: studies.SetupLock):
    """The study with the fewest finished and running trials below its target (the same
    budget for every approach even when a sweep is cut short), after failing dead workers'
    trials. WAIT when every study is at its target only with other workers' running trials,
    which may yet die and need a retry; None when every study is done (or out of failures).

    Two workers can pick the last slot of a study at once, so a study may pass its target
    by up to workers - 1 trials; the table and the report count its first `n_trials`."""
    open_jobs, others_running = [], False
    for job, study in jobs:
        with lock.held():
            studies.fail_dead_trials(study, search)
        if studies.own_failures(study) >= search.max_failures:
            continue
        running = studies.count(study, (TrialState.RUNNING,))
        taken = studies.count(study, studies.FINISHED_STATES) + running
        if taken < search.n_trials:
            open_jobs.append((taken, job, study))
        others_running |= running > 0
    if not open_jobs:
        return WAIT if others_running else None
    _, job, study = min(open_jobs, key=lambda item: item[0])
    return job, study


def run_one(job: StudyJob, study: optuna.Study, spec: WorkerSpec, run) -> dict:
    """One trial of `study` through Study.optimize (which asks, beats the heartbeat where the
    storage keeps one, runs a queued retry first and tells the outcome); `run(trial)` trains
    it. Returns the trial's event; raises KeyboardInterrupt, and lost-service errors."""
    event = {"kind": "trial", "worker": spec.index, "study": job.approach.label}

    def objective(trial: optuna.Trial) -> float:
        event["trial"] = trial.number
        for key, value in {**studies.owner_attrs(trial.number), "worker": spec.index}.items():
            trial.set_user_attr(key, value)  # who runs it: dead workers' trials are failed by it
        try:
            return run(trial)
        except KeyboardInterrupt:
            trial.set_user_attr(studies.INTERRUPTED, True)  # not a failure of its own
            raise
        finally:
            # Memory after each trial: `make bench` reads it, and it shows a leak in a long sweep.
            with contextlib.suppress(Exception):
                trial.set_user_attr("worker_rss_mb", resident_mb())
                trial.set_user_attr("worker_peak_rss_mb", peak_resident_mb())

    try:
        study.optimize(objective, n_trials=1, gc_after_trial=False)
    except optuna.exceptions.UpdateFinishedTrialError:
        # Another process failed it for missing heartbeats (and queued a retry) while it
        # ran. Its run keeps everything it logged; the study counts the retry instead.
        trial = study.get_trials(deepcopy=False)[event["trial"]]
        event.update(state="FAIL", note="another worker had already failed it for missing "
                     "heartbeats; its retry takes its place")
        if trial.user_attrs.get("mlflow_run_id"):
            MlflowClient().set_tag(trial.user_attrs["mlflow_run_id"], run_tags.TRIAL_STATE, "FAIL")
        return event
    except Exception as err:  # Optuna has told FAIL; the study goes on
        if is_unavailable(err) or "trial" not in event:  # ...unless a server went away
            raise
        log.debug("trial %s failed", event["trial"], exc_info=True)
        first_line = str(err).splitlines()[0] if str(err) else ""
        event.update(state="FAIL", note=f"{type(err).__name__}: {first_line}")
        return event
    trial = study.get_trials(deepcopy=False)[event["trial"]]
    event.update(state=trial.state.name, value=trial.value)
    if trial.state == TrialState.PRUNED:
        event["note"] = f"pruned after epoch {trial.last_step}"
    return event


def run_worker(spec: WorkerSpec, events, interrupt: Interrupt) -> bool:
    """Run trials until none is left (returns False) or until `spec.max_trials` have run
    (returns True: a fresh process should go on)."""
    from src import tracking  # TensorFlow and MLflow load in the worker only
    from src.data.model_inputs import prepare
    from src.keras_fit import StopOnInterrupt
    from src.tuning.trial import run_trial

    cfg = spec.cfg
    gc.freeze()  # as in src.train: the imported modules out of every collection's scan
    experiment_id = tracking.use_experiment(cfg.tracking)
    storage = studies.open_storage(cfg.search)
    jobs = load_jobs(storage, spec)
    lock = studies.SetupLock(cfg.search)
    data_cache: dict[str, Any] = {}

    def data_for(data_cfg: DictConfig):
        key = OmegaConf.to_yaml(data_cfg, resolve=True)
        if key not in data_cache:
            data_cache[key] = prepare(data_cfg)
        return data_cache[key]

    ran = 0
    while spec.max_trials is None or ran < spec.max_trials:
        interrupt.check()
        picked = next_study(jobs, cfg.search, lock)
        if picked is None:
            return False
        if picked is WAIT:
            time.sleep(WAIT_SECONDS)
            continue
        job, study = picked
        start = time.perf_counter()
        def run(trial):
            interrupt.check()  # a Ctrl+C while the trial was claimed
            return run_trial(trial, job, spec.overrides, data_for, experiment_id,
                             callbacks=[StopOnInterrupt(interrupt)])

        event = run_one(job, study, spec, run)
        event["seconds"] = time.perf_counter() - start
        events.put(event)
        ran += 1
    return True
