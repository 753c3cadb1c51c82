"""A sweep's worker processes (src.tuning.worker), as the coordinator keeps them: forked
from a server that imported everything once, as many as asked for or as the machine holds,
each replaced by a fresh one after its share of trials; one line per trial and a progress
bar over the sweep's finished trials."""

import multiprocessing
import os
import queue
import signal
import time

from omegaconf import DictConfig

from src.redact import redact
from src.tuning import approaches, selection, studies


def worker_context():
    """Worker processes fork from a server that has imported TensorFlow, MLflow and
    Optuna once, so a fresh process per trial starts in milliseconds, not seconds.
    Fresh processes are what keep a long sweep's memory flat: TensorFlow keeps memory
    from every model it has compiled, `clear_session` or not."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["src.tuning.preload"])
    return context


def start_worker_server() -> None:
    """Start the workers' server now, once the input is checked: its imports (seconds of
    TensorFlow) then overlap the coordinator's own and the set-up before the first trial."""
    from multiprocessing import forkserver

    worker_context()
    forkserver.ensure_running()


# How long the coordinator waits for a worker's event before it looks for workers that have
# exited: a worker recycled after each trial is noticed, and its successor started, this
# much later (it was 0.5 s, about a tenth of a tiny trial, at each trial).
POLL_SECONDS = 0.05


WORKER_MB = 1500  # memory per worker for `search.workers: null`; one peaked at 1 GB in `make bench`


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(search: DictConfig, studies: int) -> int:
    """`search.workers`; null: one per CPU core this process may use, at most one per study
    (trials go to the study with the fewest, so each study's sampler still learns from all
    of its finished trials) and as many as the memory holds at WORKER_MB each. Trials this
    small use a core each better than two cores one trial: 2 workers of 1 thread finished
    1.6 x the trials of 1 worker of 2 threads (`make bench`)."""
    if search.workers is not None:
        return search.workers
    memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e6
    return max(1, min(usable_cores(), studies, int(memory_mb // WORKER_MB)))


def threads_each(search: DictConfig, workers: int) -> int:
    """`search.threads_per_worker`; null: the cores shared out between the workers."""
    return search.threads_per_worker or max(1, usable_cores() // workers)


def run_workers(cfg: DictConfig, overrides: list[str], opened: dict,
                planned: dict[approaches.Approach, DictConfig]) -> list[str]:
    """Keep `search.workers` worker processes going until the studies are done, each
    replaced by a fresh one after `search.trials_per_process` trials; show a progress bar
    over finished trials and one line per trial. Ctrl+C stops every worker cleanly.
    Returns the workers that failed."""
    from tqdm import tqdm

    from src.tuning.worker import (EXIT_INTERRUPTED, EXIT_RECYCLE, EXIT_SERVICE_LOST,
                                   WorkerSpec, study_jobs, worker_process)

    search = cfg.search
    workers = worker_count(search, len(opened))
    threads = threads_each(search, workers)
    context = worker_context()
    events = context.Queue()
    jobs = study_jobs(cfg, planned, {label: run_id for label, (_, run_id) in opened.items()})

    def start(index: int):
        spec = WorkerSpec(index, cfg, list(overrides), threads, jobs, search.trials_per_process)
        process = context.Process(target=worker_process, name=f"sweep-worker-{index}", args=(spec, events))
        process.start()
        return process

    target = search.n_trials * len(opened)
    # A study past its target (search.n_trials lowered, or extra trials of several workers)
    # counts up to it: the bar and the [done/total] lines went past their total.
    finished = sum(min(studies.count(study, studies.FINISHED_STATES), search.n_trials)
                   for study, _ in opened.values())
    bar = tqdm(total=target, initial=min(finished, target), desc="trials", unit="trial",
               disable=None, dynamic_ncols=True)
    running = {index: start(index) for index in range(workers)}
    progress = Progress(done=min(finished, target), total=target, several=workers > 1)
    lock = studies.SetupLock(search)
    failed, interrupted = [], False
    try:
        while running or not events.empty():
            try:
                event = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                event = None
            if event is not None:
                if event.get("state") in selection.FINISHED:
                    progress.finished()
                    bar.update(1)
                line = describe_event(event, progress)
                if line:
                    bar.write(line)
            for index, process in list(running.items()):
                if process.is_alive():
                    continue
                process.join()
                del running[index]
                if process.exitcode == EXIT_INTERRUPTED:
                    interrupted = True  # Ctrl+C reached the workers: the sweep stops
                elif process.exitcode == EXIT_RECYCLE:
                    if not interrupted:
                        running[index] = start(index)
                elif process.exitcode != 0:
                    failed.append(f"{process.name} (exit code {process.exitcode})")
                if process.exitcode not in (0, EXIT_RECYCLE, EXIT_INTERRUPTED, EXIT_SERVICE_LOST):
                    for arch, (study, _) in opened.items():  # its trial: failed, retry queued
                        with lock.held():
                            dead = studies.fail_dead_trials(study, search)
                        for number in dead:
                            bar.write(describe_event({"kind": "orphan", "study": arch, "trial": number,
                                                      "worker": index}, progress))
        if interrupted:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        # From a terminal every worker got the Ctrl+C too; pass it on to any still running
        # after a moment (the coordinator alone was signalled), and end stragglers later.
        for process in running.values():
            process.join(timeout=5)
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        for process in running.values():
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
        raise
    finally:
        bar.close()
    return failed


class Progress:
    """Finished trials out of the sweep's target, and the time left at this run's pace."""

    def __init__(self, done: int, total: int, several: bool):
        self.done, self.total, self.several = done, total, several
        self.start, self.done_here = time.monotonic(), 0

    def finished(self) -> None:
        self.done += 1
        self.done_here += 1

    def left(self) -> str:
        if not self.done_here or self.done >= self.total:
            return ""
        seconds = (time.monotonic() - self.start) / self.done_here * (self.total - self.done)
        return f", ~{format_duration(seconds)} left"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:.0f} min"


def describe_event(event: dict, progress: Progress) -> str | None:
    """`[3/36 reshape_head #2] COMPLETE val_loss 0.4433 in 5.7s, ~2 min left`: finished
    trials of the whole sweep, the study and the trial's number."""
    where = f" on worker {event['worker']}" if progress.several else ""
    if event["kind"] == "trial":
        value = f" val_loss {event['value']:.4f}" if event.get("value") is not None else ""
        # A failed trial's note is its error's first line, which may quote a URL.
        note = f" ({redact(event['note'])})" if event.get("note") else ""
        return (f"[{progress.done}/{progress.total} {event['study']} #{event['trial']}] "
                f"{event['state']}{value}{note} in {event['seconds']:.1f}s{where}{progress.left()}")
    if event["kind"] == "orphan":
        return f"[{event['study']} #{event['trial']}] its worker died; marked FAIL, retry queued{where}"
    if event["kind"] == "error":
        return f"[worker {event['worker']}] stopped: {redact(event['message'])}"
    return None
