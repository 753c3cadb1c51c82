"""`make bench`, the whole-process rows: what a user waits for, from the shell prompt back
to it. A single `python -m src.train` against the seed's plain Keras script, and a default
`make sweep` with the overhead of each trial around its epochs. Each can also run on the
code of an earlier commit (`bench.baseline`, unpacked with `git archive`), so before and
after come from the same machine in the same bench."""

import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The seed's way, as a script of its own: Keras imported, the seed's model built, compiled
# with compile('adam', 'mse') and fitted on the arrays, the test windows forecast.
PLAIN_KERAS = """
import sys
import numpy as np
import keras
from src.models.recurrent import reshape_head
arrays = np.load(sys.argv[1])
keras.utils.set_random_seed(42)
model = reshape_head(arrays["X"].shape[1], arrays["y"].shape[1], arrays["X"].shape[2], [12, 12, 6])
model.compile(optimizer="adam", loss="mse")
model.fit(arrays["X"], arrays["y"], batch_size=32, epochs=int(sys.argv[2]), verbose=0,
          validation_data=(arrays["Xv"], arrays["yv"]))
forecast = model.predict(arrays["Xt"], verbose=0)
print("test MSE", float(np.mean((forecast - arrays["yt"]) ** 2)))
"""

# `python -m src.train` up to its first epoch. The project is imported before Keras, as
# there: src/__init__.py sets up what Keras's import leaves out (src.trim). CONF_DIR comes
# from src.cli, where the baseline tree (bench.baseline) also has it.
FIRST_EPOCH_PROBE = """
import json, sys, time
from src.train import train
from hydra import compose, initialize_config_dir
import keras
from src.cli import CONF_DIR
from src.config import register_configs
class Mark(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            print("FIRST_EPOCH", time.time(), json.dumps(sorted(sys.modules)), flush=True)
register_configs()
with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
    train(compose("config", overrides=sys.argv[1:]), callbacks=[Mark()])
"""


def unpack(ref: str, folder: Path) -> Path:
    """The tree of commit `ref` of this repository, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder.with_suffix(".tar")
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    archive.unlink()
    # Its bytecode compiled now, as this tree's already is, not inside the first timed run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "src")], check=True)
    return folder


def _env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree)}


def timed_process(args: list[str], tree: Path) -> float:
    """Wall seconds of `python <args>` run in `tree`, from start to exit."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=tree, env=_env(tree), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args[:2])} in {tree} failed: {done.stderr[-2000:]}")
    return seconds


def first_epoch(tree: Path, overrides: list[str]) -> tuple[float, set[str]]:
    """Seconds from process start to the beginning of the first epoch of a `train()` run,
    and the modules loaded by then."""
    start = time.time()
    probe = subprocess.Popen([sys.executable, "-c", FIRST_EPOCH_PROBE, *overrides], cwd=tree,
                             env=_env(tree), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    mark = next((line for line in probe.stdout if line.startswith("FIRST_EPOCH")), None)
    probe.kill()  # the rest of the run is not start-up
    probe.wait()
    if mark is None:
        raise RuntimeError("the start-up probe ended before its first epoch")
    _, at, modules = mark.split(maxsplit=2)
    return float(at) - start, set(json.loads(modules))


def save_seed_arrays(data, path: Path) -> Path:
    X, y = data.model_arrays(data.train)
    Xv, yv = data.model_arrays(data.val)
    Xt, yt = data.model_arrays(data.test)
    with open(path, "wb") as out:
        import numpy as np

        np.savez(out, X=X, y=y, Xv=Xv, yv=yv, Xt=Xt, yt=yt)
    return path


def whole_process(trees: dict[str, Path], repeats: int, epochs: int, arrays: Path,
                  store: list[str]) -> dict:
    """Alternately: the plain Keras script, then `python -m src.train` of the seed's
    reshape-head (early stopping off) on each tree; `--help` and the time to the first
    epoch on each tree. Medians over `repeats`."""
    run = ["-m", "src.train", "arch=reshape_head", "arch.units=[12,12,6]", f"train.epochs={epochs}",
           f"train.patience={epochs}", "train.verbose=0", *store]
    probe = ["train.epochs=1", "train.verbose=0", "tracking.log_model=false", *store]
    seconds: dict[str, list[float]] = {"plain": []}
    for name in trees:
        seconds.update({f"{name}_run": [], f"{name}_help": [], f"{name}_first_epoch": []})
    for _ in range(repeats):
        seconds["plain"].append(timed_process(["-c", PLAIN_KERAS, str(arrays), str(epochs)], ROOT))
        for name, tree in trees.items():
            seconds[f"{name}_run"].append(timed_process(run, tree))
            seconds[f"{name}_help"].append(timed_process(["-m", "src.train", "--help"], tree))
            seconds[f"{name}_first_epoch"].append(first_epoch(tree, probe)[0])
    return {"medians": {k: statistics.median(v) for k, v in seconds.items()}, "runs": seconds}


def default_sweep(tree: Path, folder: Path, extra: list[str] = ()) -> dict:
    """`make sweep` with its defaults (and `extra` overrides) into a fresh store and journal
    under `folder`: wall seconds, and each finished trial's seconds outside model.fit (its
    overhead)."""
    folder.mkdir(parents=True, exist_ok=True)
    store = [f"tracking.uri=sqlite:///{folder}/mlflow.db", f"tracking.artifact_root={folder}/artifacts",
             f"search.journal={folder}/journal.log"]
    seconds = timed_process(["-m", "src.sweep", *store, *extra], tree)
    return {"seconds": seconds, **trial_overheads(folder)}


def trial_overheads(folder: Path) -> dict:
    """Per finished trial: wall seconds from its claim to its result (Optuna's start and
    complete times) and the part of it outside model.fit (the run's fit_seconds: its
    epochs, the first one's compilation included); and how many workers ran them."""
    import mlflow
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "journal.log")))
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    walls, overheads, slots = [], [], set()
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                              optuna.trial.TrialState.PRUNED)):
            wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
            fit = client.get_run(trial.user_attrs["mlflow_run_id"]).data.metrics["fit_seconds"]
            walls.append(wall)
            overheads.append(wall - fit)
            slots.add(trial.user_attrs.get("worker"))  # the worker slot that ran it
    return {"trials": len(walls), "workers": len(slots), "trial_s": statistics.median(walls),
            "overhead_s": statistics.median(overheads), "overheads": overheads}


def run_all(bench, tmp: Path, data, store: list[str]) -> dict:
    """The whole-process figures on this tree and, where `bench.baseline` names a commit,
    on that commit's tree too."""
    trees = {"now": ROOT}
    if bench.baseline:
        trees["before"] = unpack(bench.baseline, tmp / "baseline")
    arrays = save_seed_arrays(data, tmp / "seed_arrays.npz")
    results = {"trees": {k: str(v) for k, v in trees.items()}, "baseline": bench.baseline, "epochs": bench.epochs,
               "process": whole_process(trees, bench.repeats, bench.epochs, arrays, store)}
    if bench.default_sweep:
        # This tree's default runs a worker per core; with one, as the earlier default did.
        variants = {"now": (ROOT, []), "now_one_worker": (ROOT, ["search.workers=1"])}
        if "before" in trees:
            variants["before"] = (trees["before"], [])
        results["sweep"] = {name: default_sweep(tree, tmp / f"sweep_{name}", extra)
                            for name, (tree, extra) in variants.items()}
    (tmp / "process.json").write_text(json.dumps(results, indent=2))
    return results


def report_lines(results: dict) -> list[str]:
    """Rows 6 and 7 of the bench table."""
    from src.tables import format_table

    process = results["process"]["medians"]
    names = list(results["trees"])
    label = {"now": "this tree", "before": f"before ({(results['baseline'] or '')[:8]})"}
    rows = [{"what": "plain Keras script, as the seed", "s": process["plain"], "x": 1.0}]
    for name in names:
        rows.append({"what": f"`python -m src.train`, {label[name]}", "s": process[f"{name}_run"],
                     "x": process[f"{name}_run"] / process["plain"]})
    lines = [f"**6. Whole process** (the seed's reshape_head, {results['epochs']} epochs, early stopping off, "
             f"from the shell to the shell, the MLflow store already in place; target: at most 0.55 × plain "
             f"Keras)", "",
             format_table(rows, [("what", "process", "{}"), ("s", "seconds", "{:.1f}"),
                                 ("x", "× plain Keras", "{:.2f}")]), ""]
    start = [{"what": label[name], "first": process[f"{name}_first_epoch"], "help": process[f"{name}_help"]}
             for name in names]
    lines += ["**7. Start-up** (targets: first epoch at most 4 s after the process starts, `--help` under 1 s)", "",
              format_table(start, [("what", "code", "{}"), ("first", "process start to first epoch, s", "{:.1f}"),
                                   ("help", "`python -m src.train --help`, s", "{:.2f}")]), ""]
    sweeps = results.get("sweep")
    if sweeps:
        label["now_one_worker"] = "this tree, `search.workers=1`"
        last = list(sweeps)[-1]
        rows = [{"what": label[name], **sweeps[name], "x": sweeps[name]["seconds"] / sweeps[last]["seconds"]}
                for name in sweeps]
        lines += [f"**8. Default `make sweep`** (3 studies × 12 trials and the baselines, each tree's defaults; "
                  f"targets: each trial's overhead, its wall time outside model.fit, median at most 1.5 s; the "
                  f"sweep at most 0.6 × before)", "",
                  format_table(rows, [("what", "code", "{}"), ("workers", "workers", "{}"),
                                      ("seconds", "sweep s", "{:.0f}"),
                                      ("x", f"× {label[last]}", "{:.2f}"), ("trials", "trials", "{}"),
                                      ("trial_s", "median trial s", "{:.2f}"),
                                      ("overhead_s", "median overhead s", "{:.2f}")]), ""]
    return lines
