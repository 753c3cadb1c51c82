"""`make bench`: how fast the pipeline trains and sweeps on this machine, against the
seed question's plain Keras code. Prints a Markdown table and writes it, with the raw
figures, to experiments/bench/ (bench.md, bench.json).

    python -m src.bench                   # everything, about 35 minutes on 2 cores
    python -m src.bench bench.repeats=1 bench.default_sweep=false   # a first look

Variants that are compared run alternately in one process (or back to back, for the
sweeps), so drift of the machine hits both; figures are medians over `bench.repeats`.
The whole-process rows (src.bench_process) also run the code of `bench.baseline`, an
earlier commit, beside this tree's.
Nothing here asserts a target: the table states each measured figure beside it.
"""

import json
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.redact import redact

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


# --- training speed ---------------------------------------------------------------

def _seed_data(cfg: DictConfig):
    from src.data.model_inputs import prepare

    return prepare(cfg.data)


def plain_keras_fit(model, data, epochs: int, batch_size: int) -> tuple[float, list[float]]:
    """The seed's way: compile('adam', 'mse') and fit the arrays, validation beside it so
    the work matches the project's. Returns (whole run seconds, epoch seconds)."""
    from src.keras_fit import EpochClock

    X, y = data.model_arrays(data.train)
    Xv, yv = data.model_arrays(data.val)
    clock = EpochClock()
    start = time.perf_counter()
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, batch_size=batch_size, epochs=epochs, validation_data=(Xv, yv), verbose=0,
              callbacks=[clock])
    return time.perf_counter() - start, clock.seconds


def project_fit(cfg: DictConfig, data, track: bool) -> tuple[float, list[float]]:
    """The project's routine (src.one_run / src.keras_fit) with or without MLflow."""
    import keras

    from src import tracking
    from src.one_run import EpochLogger, build_model
    from src.keras_fit import fit

    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg, data)
    start = time.perf_counter()
    if track:
        experiment_id = tracking.use_experiment(cfg.tracking)
        with tracking.run(experiment_id, run_name=f"bench-{cfg.arch.name}"):
            result = fit(model, data, cfg.train, seed=cfg.seed, callbacks=[EpochLogger()])
    else:
        result = fit(model, data, cfg.train, seed=cfg.seed)
    return time.perf_counter() - start, result.epoch_seconds


def _warm(epoch_seconds: list[float]) -> float:
    return statistics.median(epoch_seconds[1:])


def _speed_overrides(arch: str, epochs: int, store: list[str]) -> list[str]:
    return [f"arch={arch}", f"train.epochs={epochs}", f"train.patience={epochs}", "train.verbose=0", *store]


def training_speed(compose, bench: DictConfig, store: list[str]) -> list[dict]:
    """Per approach, alternately: plain Keras, the project's default path with MLflow
    tracking, the same without XLA, and (the first approach) without tracking."""
    import keras

    from src.one_run import build_model

    rows = []
    for arch in bench.approaches:
        base = _speed_overrides(arch, bench.epochs, store)
        short = _speed_overrides(arch, bench.ablation_epochs, store)  # reported per warm epoch only
        variants = {"plain": None, "project": base, "project_no_xla": [*short, "train.jit_compile=false"]}
        if arch == bench.approaches[0]:
            variants["project_untracked"] = short
        runs = {name: [] for name in variants}
        data = _seed_data(compose(base))
        for _ in range(bench.repeats):
            for name, overrides in variants.items():
                if name == "plain":
                    cfg = compose(base)
                    keras.backend.clear_session()
                    keras.utils.set_random_seed(cfg.seed)
                    runs[name].append(plain_keras_fit(build_model(cfg, data), data, bench.epochs,
                                                      cfg.train.batch_size))
                else:
                    runs[name].append(project_fit(compose(overrides), data, track=name != "project_untracked"))
                log.info("%s %s: %.1fs", arch, name, runs[name][-1][0])
        row = {"approach": arch}
        for name, measured in runs.items():
            row[f"{name}_epoch_s"] = statistics.median(_warm(e) for _, e in measured)
            row[f"{name}_total_s"] = statistics.median(total for total, _ in measured)
        rows.append(row)
    return rows


# --- sweeps ---------------------------------------------------------------------------

def _sweep(compose, overrides: list[str]) -> tuple[float, object]:
    """Run a sweep into the overrides' storage; (wall seconds, the study)."""
    import optuna

    from src.tuning import studies
    from src.sweep import sweep

    cfg = compose(overrides)
    start = time.perf_counter()
    sweep(cfg, overrides)
    seconds = time.perf_counter() - start
    storage = studies.open_storage(cfg.search)
    return seconds, optuna.load_study(study_name=studies.study_name(cfg.search, cfg.search.archs[0]),
                                      storage=storage)


def _sweep_args(tmp: Path, name: str, bench: DictConfig) -> list[str]:
    """One worker (the throughput row adds its own count after), so the rows do not depend
    on the machine's cores."""
    return [f"tracking.uri=sqlite:///{tmp}/mlflow.db", f"tracking.artifact_root={tmp}/artifacts",
            "tracking.experiment=bench", f"search.journal={tmp}/{name}.journal", f"search.name={name}",
            "search.archs=[reshape_head]", "search.baselines=[]", "tracking.log_model=false", "search.workers=1",
            f"data.n_windows={bench.sweep_windows}", "search.space.units.high=32", *bench.overrides]


def sweep_throughput(compose, bench: DictConfig, tmp: Path) -> list[dict]:
    """Finished trials per minute, one worker (all cores) against two (one thread each)."""
    from src.tuning.supervisor import threads_each

    rows = []
    for workers in (1, 2):
        args = [*_sweep_args(tmp, f"throughput{workers}", bench), f"search.workers={workers}",
                f"search.n_trials={bench.throughput_trials}", f"train.epochs={bench.throughput_epochs}",
                "search/space=default"]
        seconds, study = _sweep(compose, args)
        finished = len([t for t in study.trials if t.state.is_finished()])
        rows.append({"workers": workers, "threads_per_worker": threads_each(compose(args).search, workers),
                     "trials": finished, "seconds": seconds, "trials_per_minute": 60 * finished / seconds})
    return rows


def pruning(compose, bench: DictConfig, tmp: Path) -> list[dict]:
    """The same seeded study with the default pruner and with none: epochs and best loss.
    Both sample with the same seeded random sampler, so they try the same configurations
    and differ only in what the pruner stops (TPE would also learn from the pruned trials
    and wander off along another path)."""
    import mlflow

    from src import run_tags
    from src.tuning import selection, summary

    same_configurations = ["search.sampler._target_=optuna.samplers.RandomSampler",
                           "~search.sampler.n_startup_trials"]
    rows = []
    for label, pruner in (("median pruner", []), ("no pruning", ["search.pruner._target_=optuna.pruners.NopPruner",
                                                                  "~search.pruner.n_startup_trials",
                                                                  "~search.pruner.n_warmup_steps"])):
        name = "pruned" if not pruner else "unpruned"
        args = [*_sweep_args(tmp, name, bench), f"search.n_trials={bench.pruning_trials}",
                f"train.epochs={bench.pruning_epochs}", *same_configurations, *pruner]
        seconds, study = _sweep(compose, args)
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        trials = mlflow.search_runs(experiment_names=["bench"],
                                    filter_string=run_tags.match(role=run_tags.TRIAL, sweep=name))
        best = selection.selected(summary.outcomes(study), bench.pruning_trials)
        rows.append({"variant": label, "total_epochs": int(trials["metrics.epochs_trained"].sum()),
                     "best_val_loss": best.value if best else float("nan"), "seconds": seconds,
                     "pruned": sum(t.state.name == "PRUNED" for t in study.trials)})
    return rows


def memory(compose, bench: DictConfig, tmp: Path) -> dict:
    """Resident memory of one worker after each of `memory_trials` trials."""
    args = [*_sweep_args(tmp, "memory", bench), f"search.n_trials={bench.memory_trials}",
            "train.epochs=2", "search.pruner._target_=optuna.pruners.NopPruner",
            "~search.pruner.n_startup_trials", "~search.pruner.n_warmup_steps"]
    _, study = _sweep(compose, args)
    rss = [t.user_attrs["worker_rss_mb"] for t in sorted(study.trials, key=lambda t: t.number)]
    peak = max(t.user_attrs["worker_peak_rss_mb"] for t in study.trials)
    return {"trials": len(rss), "rss_mb": rss, "peak_rss_mb": peak,
            "growth_mb_trial2_to_last": rss[-1] - rss[1],
            "trials_per_process": compose(args).search.trials_per_process,
            "processes": len({t.user_attrs["worker_pid"] for t in study.trials})}


# --- report ---------------------------------------------------------------------------

def report(results: dict) -> str:
    from src import bench_process
    from src.tables import format_table

    machine = results["machine"]
    lines = [f"Machine: {machine['cpus']} CPU cores, {machine['platform']}, Python {machine['python']}, "
             f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}; GPU: {machine['gpu'] or 'none'}. "
             f"Medians over {results['settings']['repeats']} repeats; {results['settings']['epochs']}-epoch runs "
             f"at the seed's sizes (1200 windows, 40 in, 10 out, 2 series, widths [12, 12, 6], batch 32)."
             + (f" Every run of this project with {', '.join(results['settings']['overrides'])}."
                if results["settings"]["overrides"] else ""), ""]
    speed = results["training"]
    reshape = speed[0]
    lines += [f"**1. Tracking overhead** ({reshape['approach']}, seconds per warm epoch; target: project with "
              "MLflow at most 1.05 × plain Keras)", "",
              format_table([
                  {"what": "plain Keras, as the seed", "s": reshape["plain_epoch_s"], "x": 1.0},
                  {"what": "project routine + MLflow (default: XLA)", "s": reshape["project_epoch_s"],
                   "x": reshape["project_epoch_s"] / reshape["plain_epoch_s"]},
                  {"what": "project routine + MLflow, XLA off", "s": reshape["project_no_xla_epoch_s"],
                   "x": reshape["project_no_xla_epoch_s"] / reshape["plain_epoch_s"]},
                  {"what": "project routine, no tracking (default: XLA)", "s": reshape["project_untracked_epoch_s"],
                   "x": reshape["project_untracked_epoch_s"] / reshape["plain_epoch_s"]},
              ], [("what", "variant", "{}"), ("s", "s / epoch", "{:.3f}"), ("x", "× plain Keras", "{:.2f}")]), ""]
    lines += ["**2. Training speed** (target: at least 1.8 × faster per epoch and 1.5 × over the whole "
              "run, compilation included)", "",
              format_table([{**r,
                             "epoch_x": r["plain_epoch_s"] / r["project_epoch_s"],
                             "total_x": r["plain_total_s"] / r["project_total_s"]} for r in speed], [
                  ("approach", "approach", "{}"), ("plain_epoch_s", "plain s/epoch", "{:.3f}"),
                  ("project_epoch_s", "project s/epoch", "{:.3f}"), ("epoch_x", "speed-up", "{:.2f}×"),
                  ("project_no_xla_epoch_s", "no-XLA s/epoch", "{:.3f}"),
                  ("plain_total_s", "plain run s", "{:.1f}"), ("project_total_s", "project run s", "{:.1f}"),
                  ("total_x", "speed-up", "{:.2f}×")]), ""]
    through = results["throughput"]
    lines += ["**3. Sweep throughput** (target: 2 workers at least 1.5 × 1 worker)", "",
              format_table([{**r, "x": r["trials_per_minute"] / through[0]["trials_per_minute"]} for r in through], [
                  ("workers", "workers", "{}"), ("threads_per_worker", "threads each", "{}"),
                  ("trials", "trials", "{}"), ("seconds", "seconds", "{:.0f}"),
                  ("trials_per_minute", "trials / min", "{:.2f}"), ("x", "× 1 worker", "{:.2f}")]), ""]
    prune = results["pruning"]
    lines += ["**4. Pruning** (the same seeded random configurations with and without the median pruner; target: at least 40 % fewer epochs, best loss within 2 %)", "",
              format_table([{**r, "epochs_x": r["total_epochs"] / prune[1]["total_epochs"],
                             "loss_x": r["best_val_loss"] / prune[1]["best_val_loss"]} for r in prune], [
                  ("variant", "variant", "{}"), ("total_epochs", "epochs", "{}"), ("pruned", "pruned", "{}"),
                  ("epochs_x", "epochs × no pruning", "{:.2f}"), ("best_val_loss", "best val loss", "{:.4f}"),
                  ("loss_x", "loss × no pruning", "{:.3f}"), ("seconds", "seconds", "{:.0f}")]), ""]
    mem = results["memory"]
    lines += [f"**5. Memory** (one worker, {mem['trials']} trials in {mem['processes']} process(es), "
              f"`search.trials_per_process={mem['trials_per_process']}`; target: growth under 100 MB): resident "
              f"{mem['rss_mb'][1]:.0f} MB after trial 2, {mem['rss_mb'][-1]:.0f} MB after trial {mem['trials']} "
              f"(growth {mem['growth_mb_trial2_to_last']:+.0f} MB), peak {mem['peak_rss_mb']:.0f} MB.", ""]
    lines += bench_process.report_lines(results["process"])
    return "\n".join(lines)


def whole_process(compose, bench: DictConfig, tmp: Path, store: list[str]) -> dict:
    from src import bench_process, tracking

    cfg = compose(_speed_overrides("reshape_head", bench.epochs, store))
    tracking.use_experiment(cfg.tracking)  # every timed run finds the store in place
    return bench_process.run_all(bench, tmp, _seed_data(cfg), store)


def machine() -> dict:
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "gpu": ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)}


def check_approaches(compose, approaches: list[str]) -> None:
    """UserError unless each of `bench.approaches` is a conf/arch/ option with recurrent layers
    (arch.units): the training-speed rows time LSTM stacks against the seed's plain Keras."""
    from src.config import UserError, arch_options

    known = arch_options()
    if not approaches:
        raise UserError("bench.approaches needs at least one approach, e.g. [reshape_head]")
    for arch in approaches:
        if arch not in known:
            raise UserError(f"bench.approaches: unknown arch '{arch}'; available: {', '.join(known)}")
        if "units" not in compose([f"arch={arch}"]).arch:
            raise UserError(f"bench.approaches: {arch} has no recurrent layers (arch.units) to time")


def bench(cfg: DictConfig) -> dict:
    from hydra import compose as hydra_compose

    from src.config import validate

    validate(cfg)
    b = cfg.bench

    def compose(overrides):
        return hydra_compose("config", overrides=list(overrides))

    check_approaches(compose, list(b.approaches))

    out = Path(b.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = OmegaConf.to_container(b)
    settings["overrides"] = [redact(o) for o in settings["overrides"]]  # written and printed
    results = {"settings": settings, "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # The store the sweeps below use too (_sweep_args): creating one runs MLflow's schema
        # migrations, seconds each.
        store = [f"tracking.uri=sqlite:///{tmp}/mlflow.db", f"tracking.artifact_root={tmp}/artifacts",
                 "tracking.experiment=bench", *b.overrides]
        steps = [("process", lambda: whole_process(compose, b, tmp, store)),
                 ("training", lambda: training_speed(compose, b, store)),
                 ("throughput", lambda: sweep_throughput(compose, b, tmp)),
                 ("pruning", lambda: pruning(compose, b, tmp)),
                 ("memory", lambda: memory(compose, b, tmp))]
        for name, step in steps:
            started = time.perf_counter()
            results[name] = step()
            log.info("bench %s done in %.0fs", name, time.perf_counter() - started)
    table = report(results)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    (out / "bench.md").write_text(table)
    print(table)
    return results


def main() -> None:
    from src.cli import run_app

    run_app(bench, config_name="config")


if __name__ == "__main__":
    main()
