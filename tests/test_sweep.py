"""`src.sweep` into temporary storage: studies, nested runs, resumption, failures,
parallel workers, dead workers, Ctrl+C and bad search spaces."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from hydra import initialize_config_dir
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from conftest import CONF_DIR, ROOT, make_cfg, run_cli, tags_not_in_the_schema
from src.config import UserError
from src.sweep import SweepFailed, sweep
from src.tuning.supervisor import worker_count

# Tiny studies: small data, two epochs, one or two layers of 2-4 cells, no XLA and one batch
# per compiled call: compiling XLA or tracing a loop of 8 steps would cost more than such
# trials train (tests/test_train.py covers the defaults).
# No MLflow model per trial and no study plots: the models a sweep logs are tested where they
# are used (tests/test_compare.py registers one, tests/test_services.py fetches one through a
# server), the plots in the first test below.
FAST = ["search.workers=1", "data.n_windows=200", "train.epochs=2", "train.jit_compile=false",
        "train.steps_per_execution=1", "search.space.units.low=2",
        "search.space.units.high=4", "search.space.depth.high=2", "tracking.log_model=false", "search.plots=false",
        "search.pruner.n_startup_trials=1", "search.pruner.n_warmup_steps=1"]


@pytest.fixture
def sweep_args(tmp_path, store):
    return [*store, f"search.journal={tmp_path}/optuna/journal.log", *FAST]


def run_sweep(overrides):
    cfg = make_cfg(*overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):  # the sweep composes each study's
        return sweep(cfg, overrides)


def load(tmp_path, name):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(f"{tmp_path}/optuna/journal.log"))
    return optuna.load_study(study_name=name, storage=storage)


def runs(tmp_path, filter_string=""):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("test")
    return client, client.search_runs([experiment.experiment_id], filter_string, max_results=1000)


def states(study):
    return sorted(t.state.name for t in study.get_trials())


ARCHS = sorted(p.stem for p in (CONF_DIR / "arch").glob("*.yaml"))
BASELINES = ["naive", "ets"]  # a trivial and a statistical one (tests/test_baselines.py has each)


@pytest.mark.slow
def test_sweep_runs_resumes_and_reports(tmp_path, sweep_args, capsys):
    args = [*sweep_args, "search.n_trials=2", "search.archs=[reshape_head,timedistributed]", "search.plots=true",
            f"search.baselines=[{','.join(BASELINES)}]"]
    rows = run_sweep(args)
    printed = capsys.readouterr().out
    assert [r["approach"] for r in rows] == ["reshape_head", "timedistributed", *BASELINES]
    for line in ("| approach", "| reshape_head", "| timedistributed", *(f"| {b}" for b in BASELINES)):
        assert line in printed
    client, all_runs = runs(tmp_path)
    for arch in ("reshape_head", "timedistributed"):
        study = load(tmp_path, f"sweep-{arch}")
        finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        assert len(finished) == 2 and len(study.trials) == 2
        parent = next(r for r in all_runs if r.data.tags.get("study") == f"sweep-{arch}"
                      and r.data.tags.get("role") == "study")
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["sampler"] == "TPESampler" and parent.data.tags["pruner"] == "MedianPruner"
        assert parent.data.metrics["trials_complete"] + parent.data.metrics["trials_pruned"] == 2
        # the selected trial's metrics under the trials' own keys, and what its trials cost
        selected = client.get_run(parent.data.tags["best_run_id"])
        for key in ("test_mse", "best_val_loss", "n_params", "test_mse_ratio_to_naive"):
            assert parent.data.metrics[key] == selected.data.metrics[key], key
        assert 0 < parent.data.metrics["trials_seconds"]
        assert {"plots/optimization_history.png"} <= {
            a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
        children = [r for r in all_runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(int(r.data.tags["trial_number"]) for r in children) == [0, 1]
        for child in children:
            trial = study.trials[int(child.data.tags["trial_number"])]
            assert child.data.tags["trial_state"] == trial.state.name
            assert child.data.tags["arch"] == arch
            units = json.loads(child.data.params["arch.units"])
            assert int(child.data.params["depth"]) == len(units) and int(child.data.params["width"]) == units[0]
            assert float(child.data.params["taper"]) == trial.params["taper"]
            assert float(child.data.params["learning_rate"]) == float(child.data.params["train.learning_rate"])
            assert child.inputs.dataset_inputs[0].dataset.digest == child.data.tags["split_fingerprint"]
            steps = client.get_metric_history(child.info.run_id, "test_mse_by_step")
            assert sorted(point.step for point in steps) == list(range(1, 11))
            assert child.data.tags["reproduce"].startswith(f"python -m src.train ")
            assert f"arch={arch}" in child.data.tags["reproduce"]
            assert "search." not in child.data.tags["reproduce"]
            assert trial.user_attrs["mlflow_run_id"] == child.info.run_id
            assert "test_mse" in child.data.metrics and "n_params" in child.data.metrics
    baselines = [r for r in all_runs if r.data.tags.get("role") == "baseline"]
    assert sorted(r.data.tags["arch"] for r in baselines) == sorted(BASELINES)
    assert tags_not_in_the_schema(all_runs) == set()  # each tag is one src/run_tags.py describes

    # The same command again: nothing new. A larger target: exactly the difference.
    n_runs = len(all_runs)
    run_sweep(args)
    assert len(runs(tmp_path)[1]) == n_runs
    run_sweep([*args, "search.n_trials=3"])
    for arch in ("reshape_head", "timedistributed"):
        assert [t.number for t in load(tmp_path, f"sweep-{arch}").trials] == [0, 1, 2]
    assert len(runs(tmp_path)[1]) == n_runs + 2


@pytest.mark.slow
def test_terminal_output_is_one_line_per_trial_without_tensorflow_chatter(tmp_path, sweep_args):
    result = run_cli("src.sweep", *sweep_args, "search.archs=[reshape_head,linear]",
                     "search.baselines=[naive]", "search.n_trials=2", "search.space.depth.high=1")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for noise in ("cuInit", "absl", "oneDNN", "E0000", "I0000", "cuda"):
        assert noise not in output, noise
    trials = [line for line in output.splitlines() if line.startswith("[")]
    assert len(trials) == 4
    assert re.fullmatch(r"\[1/4 (reshape_head|linear) #0\] COMPLETE val_loss \d\.\d{4} in \d+\.\ds, "
                        r"~\d+ (s|min) left", trials[0]), trials[0]
    assert trials[-1].startswith("[4/4 ") and "left" not in trials[-1]
    assert "selected trial (one seed)" in output
    assert "python -m src.compare" in result.stdout.splitlines()[-1]


@pytest.mark.slow
def test_failing_trials_do_not_stop_the_sweep(tmp_path, sweep_args, capsys):
    # The learning rate makes every reshape_head trial diverge; naive has nothing to train.
    # The sweep finishes, prints its table, and then fails for the study left without a result.
    with pytest.raises(SweepFailed, match="no finished trial in sweep-reshape_head: every trial failed"):
        run_sweep([*sweep_args, "search.archs=[naive,reshape_head]", "search.baselines=[]",
                   "search.n_trials=2", "search.max_failures=2",
                   "++search.space.learning_rate={type:categorical,choices:[1e30]}"])
    assert states(load(tmp_path, "sweep-reshape_head")) == ["FAIL", "FAIL"]
    assert states(load(tmp_path, "sweep-naive")) == ["COMPLETE", "COMPLETE"]
    table = capsys.readouterr().out
    assert "| naive" in table and "2/0/0" in table and "0/0/2" in table
    client, failed = runs(tmp_path, "tags.trial_state = 'FAIL'")
    assert len(failed) == 2 and {r.info.status for r in failed} == {"FAILED"}
    for run in failed:  # why it failed, where mlflow ui shows it
        assert run.data.tags["error"].startswith("TrainingDiverged: loss became NaN or infinite in epoch")
        assert "Traceback" in (Path(client.download_artifacts(run.info.run_id, "error.txt", str(tmp_path)))).read_text()


@pytest.mark.slow
def test_scaling_can_be_searched(tmp_path, sweep_args, capsys):
    run_sweep([*sweep_args, "search.archs=[linear]", "search.baselines=[]", "search.n_trials=4",
               "++search.space.scaling={type:categorical,choices:[global,window,revin],key:data.scaling}"])
    study = load(tmp_path, "sweep-linear")
    _, children = runs(tmp_path, "tags.role = 'trial'")
    by_number = {int(r.data.tags["trial_number"]): r for r in children}
    for trial in study.trials:
        run = by_number[trial.number]
        assert run.data.tags["scaling"] == run.data.params["data.scaling"] == trial.params["scaling"]
        assert f"data.scaling={trial.params['scaling']}" in run.data.tags["reproduce"]
    assert "| scaling" in capsys.readouterr().out


@pytest.mark.slow
def test_two_workers_share_a_study(tmp_path, sweep_args, capsys):
    run_sweep([*sweep_args, "search.archs=[linear]", "search.baselines=[]", "search.n_trials=4",
               "search.workers=2", "train.epochs=3"])
    study = load(tmp_path, "sweep-linear")
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    # Both workers may start the last trial at once: at most workers - 1 past the target.
    assert 4 <= len(finished) == len(study.trials) <= 5
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))
    assert len({t.user_attrs["worker_pid"] for t in study.trials}) == len(study.trials)  # a fresh process each
    _, children = runs(tmp_path, "tags.role = 'trial'")
    assert sorted(int(r.data.tags["trial_number"]) for r in children) == list(range(len(study.trials)))
    extra = f" (+{len(finished) - 4} not counted)" if len(finished) > 4 else ""
    assert re.search(rf"\| linear .*\| \d/\d/0{re.escape(extra)} +\|", capsys.readouterr().out)


@pytest.mark.slow
def test_one_process_per_worker_when_asked(tmp_path, sweep_args):
    run_sweep([*sweep_args, "search.archs=[linear]", "search.baselines=[]", "search.n_trials=3",
               "search.trials_per_process=null", "train.epochs=1"])
    study = load(tmp_path, "sweep-linear")
    assert len(study.trials) == 3 and len({t.user_attrs["worker_pid"] for t in study.trials}) == 1


@pytest.mark.slow
def test_changed_settings_do_not_resume_a_study(tmp_path, sweep_args):
    args = [*sweep_args, "search.archs=[naive]", "search.baselines=[]", "search.n_trials=1"]
    run_sweep(args)
    with pytest.raises(UserError, match="was grown with train.epochs=2, now 5"):
        run_sweep([*args, "train.epochs=5"])


@pytest.mark.slow
def test_a_study_resumed_with_another_sampler_says_so_on_its_run(tmp_path, sweep_args, caplog):
    """The sampler and pruner may change between runs of a sweep; the study's run kept the
    first run's sampler tag, so mlflow ui named a sampler its later trials did not use."""
    args = [*sweep_args, "search.archs=[naive]", "search.baselines=[]", "search.n_trials=1"]
    random_sampler = ["search.sampler._target_=optuna.samplers.RandomSampler", "~search.sampler.n_startup_trials"]
    run_sweep(args)
    run_sweep([*args[:-1], "search.n_trials=2", *random_sampler])
    _, [parent] = runs(tmp_path, "tags.role = 'study'")
    assert parent.data.tags["sampler"] == "TPESampler, then RandomSampler"
    assert parent.data.tags["pruner"] == "MedianPruner"
    assert "sweep-naive: resumed with RandomSampler (so far TPESampler)" in caplog.text
    run_sweep([*args[:-1], "search.n_trials=3", *random_sampler])
    _, [parent] = runs(tmp_path, "tags.role = 'study'")
    assert parent.data.tags["sampler"] == "TPESampler, then RandomSampler"  # not named again


@pytest.mark.slow
def test_a_study_on_data_that_changed_since_is_refused(tmp_path, sweep_args):
    """A CSV that grew between two runs of one sweep: the rerun resumed the study, its new
    trial was scored on other validation windows and selected over the old one, the old
    baselines were reused, and the report then refused the sweep's runs as unlike."""
    from conftest import write_csv

    csv = ["data=csv", f"data.path={tmp_path}/shop.csv", "data.input_steps=12", "data.horizon=3"]
    synthetic_only = ("data.n_windows",)
    args = [*(a for a in sweep_args if not a.startswith(synthetic_only)), *csv, "search.archs=[naive]",
            "search.baselines=[]", "search.n_trials=1"]
    write_csv(tmp_path / "shop.csv", rows=200)
    run_sweep(args)
    write_csv(tmp_path / "shop.csv", rows=260)  # the same file, 60 rows later
    with pytest.raises(UserError, match=r"study 'sweep-naive' .* was grown on other data \(split fingerprint "):
        run_sweep([*args[:-1], "search.n_trials=2"])
    with pytest.raises(UserError, match=r"study 'sweep-naive' .* was grown on other data"):
        run_sweep([*args, "search.archs=[linear]"])  # a study joining the sweep
    assert len(load(tmp_path, "sweep-naive").trials) == 1


def _sweep_process(tmp_path, args):
    return subprocess.Popen([sys.executable, "-m", "src.sweep", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _wait_for_running_trial(tmp_path, name, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            study = load(tmp_path, name)
            running = study.get_trials(states=(TrialState.RUNNING,))
            if running and "mlflow_run_id" in running[0].user_attrs:
                return running[0]
        except (KeyError, FileNotFoundError):  # the study or its journal is not there yet
            pass
        time.sleep(0.5)
    raise AssertionError("no trial started")


# Several seconds per trial: an LSTM (the closed-form linear takes no epochs), with the default
# 8 batches per compiled call (FAST's one per call makes each of these epochs slower).
LONG_TRIALS = ["search.archs=[reshape_head]", "search.baselines=[]", "search.n_trials=2",
               "search.space.depth.high=1", "train.epochs=150", "train.patience=150",
               "train.steps_per_execution=8"]
# The pruner is not among the settings a study keeps, so a rerun may prune every trial after
# its first epoch: the retries and the trials left still run and finish, in a second each.
PRUNE_AT_ONCE = ["search.pruner._target_=optuna.pruners.ThresholdPruner", "~search.pruner.n_startup_trials",
                 "+search.pruner.upper=1e-12", "search.pruner.n_warmup_steps=0"]


def fast_rerun(args):
    return run_sweep([*(a for a in args if not a.startswith("search.pruner")), *PRUNE_AT_ONCE])


@pytest.mark.slow
def test_a_killed_workers_trial_is_failed_at_once_and_its_retry_runs_on_rerun(tmp_path, sweep_args):
    args = [*sweep_args, *LONG_TRIALS]
    proc = _sweep_process(tmp_path, args)
    running = _wait_for_running_trial(tmp_path, "sweep-reshape_head")
    os.kill(int(running.user_attrs["worker_pid"]), signal.SIGKILL)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "sweep-worker-0 (exit code -9) stopped early" in output
    assert f"[reshape_head #{running.number}] its worker died; marked FAIL, retry queued" in output
    assert load(tmp_path, "sweep-reshape_head").trials[running.number].state == TrialState.FAIL

    fast_rerun(args)
    _assert_retried_once(tmp_path, running)


@pytest.mark.slow
def test_the_whole_sweep_killed_then_rerun_retries_its_trial(tmp_path, sweep_args):
    """kill -9 of the coordinator and its workers: the rerun fails the trial left RUNNING
    (its process is gone) and runs its retry."""
    args = [*sweep_args, *LONG_TRIALS]
    proc = _sweep_process(tmp_path, args)
    running = _wait_for_running_trial(tmp_path, "sweep-reshape_head")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    _wait_gone(int(running.user_attrs["worker_pid"]))
    assert load(tmp_path, "sweep-reshape_head").trials[running.number].state == TrialState.RUNNING
    killed_at = time.time() * 1000

    time.sleep(2)  # the rerun comes later; the dead run's end must not move with it
    fast_rerun(args)
    _assert_retried_once(tmp_path, running)
    # It ended when it last logged, not when the rerun found it (the report's search seconds).
    run = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db").get_run(running.user_attrs["mlflow_run_id"])
    assert run.info.status == "FAILED" and run.info.end_time <= killed_at


def _wait_gone(pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.2)


def _assert_retried_once(tmp_path, orphan):
    study = load(tmp_path, "sweep-reshape_head")
    assert study.trials[orphan.number].state == TrialState.FAIL
    retried = [t for t in study.trials
               if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == orphan.number]
    assert len(retried) == 1 and retried[0].params == orphan.params
    assert retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)  # it ran
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 2 and len({t.number for t in study.trials}) == len(study.trials)
    client, _ = runs(tmp_path)
    orphan_run = client.get_run(orphan.user_attrs["mlflow_run_id"])
    assert orphan_run.info.status == "FAILED" and orphan_run.data.tags["trial_state"] == "FAIL"
    _, children = runs(tmp_path, "tags.role = 'trial'")
    assert len(children) == len(study.trials)  # one child run per trial, none twice


@pytest.mark.slow
@pytest.mark.parametrize("to", ["terminal", "worker"])
def test_ctrl_c_stops_cleanly_and_resumes(tmp_path, sweep_args, to):
    args = [*sweep_args, *LONG_TRIALS]
    proc = _sweep_process(tmp_path, args)
    running = _wait_for_running_trial(tmp_path, "sweep-reshape_head")
    if to == "terminal":
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in a terminal sends
    else:  # the worker alone: the sweep stops all the same
        os.kill(int(running.user_attrs["worker_pid"]), signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "run the same command again to resume" in output
    study = load(tmp_path, "sweep-reshape_head")
    assert states(study) == ["FAIL"], output
    [interrupted] = study.get_trials(states=(TrialState.FAIL,))
    assert interrupted.user_attrs["interrupted"]  # not one of search.max_failures
    assert not study.get_trials(states=(TrialState.RUNNING,))
    client, all_runs = runs(tmp_path)
    assert client.get_run(interrupted.user_attrs["mlflow_run_id"]).info.status == "KILLED"
    assert not [r for r in all_runs if r.info.status == "RUNNING"]

    fast_rerun(args)
    finished = load(tmp_path, "sweep-reshape_head").get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 2


@pytest.mark.parametrize("override, message", [
    ("search.space.units.low=100", "search.space.units: low \\(100\\) is greater than high \\(4\\)"),
    ("+search.space.dropout={type:float,low:0,high:0.5}", "search.space.dropout: unknown parameter"),
    ("+search.space.dropout={type:float,low:0,high:0.5,key:train.dropout}", "no config key 'train.dropout'"),
    # An arch's own key (seasonal_naive's period) was checked against the default arch only:
    # "no config key", even with search.archs=[seasonal_naive].
    ("+search.space.p={type:int,low:2,high:7,key:arch.period}", "search.space.p.key: arch.period is an arch's "
     "own setting, and search.space applies to every study: put the entry in that arch's arch.space"),
    ("search.space.depth.type=integer", "search.space.depth.type must be one of int, float, categorical"),
    ("search.space.batch_size.choices=[]", "needs a non-empty list of choices"),
    ("search.space.learning_rate.low=0", "a log scale needs low > 0"),
    # Values the config refuses: every trial that drew one failed, and a study could end empty.
    ("search.space.batch_size.choices=[32,0]", "search.space.batch_size: 0 is refused: train.batch_size must be a positive integer"),
    ("+search.space.rate={type:float,low:-1,high:1,key:train.learning_rate}", "search.space.rate: -1 is refused: train.learning_rate must be positive"),
    ("+search.space.size={type:float,low:0.5,high:64,key:train.batch_size}", "search.space.size: 0.5 cannot be train.batch_size"),
    # Tracebacks, or every trial failing, before (a helper's finds).
    ("search.space.learning_rate.low=abc", "search.space.learning_rate.low must be a number, got 'abc'"),
    ("search.space.learning_rate.low=[1]", "search.space.learning_rate.low must be a number, got \\[1\\]"),
    ("+search.space.learning_rate.step=0.1", "search.space.learning_rate.step: Optuna takes no step on a log scale"),
    ("+search.space.depth.step=0", "search.space.depth.step: must be positive, got 0"),
    ("++search.space.depth={type:categorical,choices:[0,2]}", "search.space.depth: each choice must be an integer of at least 1"),
    # Every trial failed, before any run (a helper's finds): a fractional step of an int, a
    # float depth, a float on an int key with whole bounds.
    ("+search.space.depth.step=0.5", "search.space.depth: an int parameter needs integer low, high and step"),
    ("search.space.depth.type=float", "search.space.depth.type: depth is a count: int or categorical, not float"),
    ("++search.space.pat={type:float,low:2,high:5,key:train.patience}", "search.space.pat: 3.11 cannot be train.patience"),
    ("search.archs=[]", "search.archs is empty"),
    ("search.archs=[lstm]", "unknown arch 'lstm'"),
    ("search.archs=[reshape_head,linear,reshape_head]", "search.archs names reshape_head more than once"),
    ("search.sampler._target_=optuna.samplers.NoSuchSampler", "search.sampler: cannot build optuna.samplers.NoSuchSampler"),
    ("search.pruner._target_=optuna.pruners.Nope", "search.pruner: cannot build optuna.pruners.Nope"),
    ("search.pruner.n_warmup_steps=-1", "search.pruner: cannot build"),
    ("search.n_trials=0", "search.n_trials must be a positive integer"),
    ("search.trials_per_process=0", "search.trials_per_process must be at least 1 or null"),
    ("search.journal=/proc/nope/journal.log", "search.journal: cannot create the folder /proc/nope"),
    ("search.journal=/tmp", "search.journal: /tmp is a folder; name the journal file"),
    ("arch=seq2seq", "search.archs=\\[...\\] instead of arch="),
    ("arch.units=[3]", "search.archs=\\[...\\] instead of arch="),
    # Before, this one got past the check and failed on the first baseline, a study run left RUNNING
    ("++arch.units=[3]", "search.archs=\\[...\\] instead of arch="),
])
def test_bad_search_space_creates_nothing(tmp_path, no_store, override, message):
    with pytest.raises(UserError, match=message):
        run_sweep([*no_store, f"search.journal={tmp_path}/optuna/journal.log", *FAST, override])
    assert not (tmp_path / "optuna").exists() and not (tmp_path / "mlflow.db").exists()


def test_studies_in_the_mlflow_store_itself_are_refused_before_either_is_touched(tmp_path, store):
    """search.storage naming the MLflow store: Optuna wrote its tables into it beside MLflow's
    (one alembic_version for both), then stopped with a traceback."""
    import hashlib

    before = hashlib.sha256((tmp_path / "mlflow.db").read_bytes()).hexdigest()
    for storage in (f"sqlite:///{tmp_path}/mlflow.db", f"sqlite:///{tmp_path}/optuna/../mlflow.db"):
        with pytest.raises(UserError, match="search.storage names the MLflow store of tracking.uri"):
            run_sweep([*store, f"search.journal={tmp_path}/optuna/journal.log", *FAST, f"search.storage={storage}"])
    assert hashlib.sha256((tmp_path / "mlflow.db").read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


ONE_TRIAL = ["search.archs=[linear]", "search.baselines=[]", "search.n_trials=1", "train.epochs=1"]


@pytest.mark.slow
def test_a_deleted_mlflow_store_stops_the_rerun_in_one_line(tmp_path, sweep_args):
    args = [*sweep_args, *ONE_TRIAL]
    run_sweep(args)
    (tmp_path / "mlflow.db").unlink()
    result = run_cli("src.sweep", *args)  # a new process, as a user's rerun is
    assert result.returncode == 2, result.stderr
    [line] = [l for l in result.stderr.splitlines() if l.startswith("error")]
    assert re.match("error: study 'sweep-linear' has 1 finished trial.* but its MLflow runs are not "
                    "in experiment 'test'.*search.name=<new name>", line), line
    assert len(load(tmp_path, "sweep-linear").trials) == 1  # nothing trained or added
    assert not (tmp_path / "mlflow.db").exists()  # a new empty store was left before


@pytest.mark.slow
def test_a_deleted_journal_does_not_double_the_runs(tmp_path, sweep_args):
    args = [*sweep_args, *ONE_TRIAL]
    run_sweep(args)
    (tmp_path / "optuna" / "journal.log").unlink()
    with pytest.raises(UserError, match="already has runs of study 'sweep-linear', but journal:.* has "
                                        "no such study"):
        run_sweep(args)
    _, all_runs = runs(tmp_path)
    assert len(all_runs) == 2  # the study's parent run and its one trial, not doubled
    assert not (tmp_path / "optuna" / "journal.log").exists()  # a new empty journal was left before


@pytest.mark.slow
def test_a_baseline_run_left_running_is_closed_failed(tmp_path, sweep_args):
    """A baseline whose process was killed (kill -9) leaves its run RUNNING: the next sweep
    ends it FAILED and trains the baseline again."""
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment_id = client.create_experiment("test", artifact_location=(tmp_path / "artifacts").as_uri())
    orphan = client.create_run(experiment_id, run_name="sweep-naive",
                               tags={"role": "baseline", "sweep": "sweep", "arch": "naive"})
    run_sweep([*sweep_args, "search.archs=[linear]", "search.baselines=[naive]", "search.n_trials=1"])
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    done = client.search_runs([experiment_id], "tags.role = 'baseline' and attributes.status = 'FINISHED'")
    assert len(done) == 1


@pytest.mark.slow
def test_a_ctrl_c_a_finalizer_swallowed_during_a_baseline_stops_the_sweep(tmp_path, sweep_args, monkeypatch):
    """A Ctrl+C raised inside a finalizer is printed as "Exception ignored" and lost (MLflow
    leaves GitPython's Repo.__del__ to the garbage collector): during a baseline the sweep
    then trained every trial and exited 0. src.train and compare already act on it."""
    import src.one_run

    fit_and_log = src.one_run.fit_and_log

    def fit_then_a_swallowed_ctrl_c(*args, **kwargs):
        metrics = fit_and_log(*args, **kwargs)

        class Finalizer:
            def __del__(self):
                signal.raise_signal(signal.SIGINT)  # its KeyboardInterrupt is raised here, and lost

        Finalizer()
        return metrics

    monkeypatch.setattr(src.one_run, "fit_and_log", fit_then_a_swallowed_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_sweep([*sweep_args, "search.archs=[linear]", "search.baselines=[naive]", "search.n_trials=1"])
    assert not load(tmp_path, "sweep-linear").trials  # no trial started after it
    _, [baseline] = runs(tmp_path, "tags.role = 'baseline'")
    assert baseline.info.status == "KILLED"


@pytest.mark.slow
def test_a_sweep_stopped_by_an_error_after_its_studies_opened_leaves_no_study_run_running(
        tmp_path, sweep_args, monkeypatch):
    """A baseline that cannot be fitted is one line, exit 2; its studies' runs stayed RUNNING."""
    import src.one_run

    def cannot_be_fitted(*args, **kwargs):
        raise UserError("no model could be fitted to the training rows: ETS(A,N,N)")

    monkeypatch.setattr(src.one_run, "fit_and_log", cannot_be_fitted)
    with pytest.raises(UserError, match="no model could be fitted"):
        run_sweep([*sweep_args, "search.archs=[linear]", "search.baselines=[naive]", "search.n_trials=1"])
    _, [study_run] = runs(tmp_path, "tags.role = 'study'")
    assert study_run.info.status == "FAILED"


@pytest.mark.slow
def test_an_arch_studied_is_not_also_a_baseline(tmp_path, sweep_args):
    """Before, it was both, and the report merged the two into one row (the baseline's
    numbers beside the study's trial counts)."""
    rows = run_sweep([*sweep_args, "search.archs=[linear]", "search.baselines=[naive,linear]", "search.n_trials=1"])
    assert [r["approach"] for r in rows] == ["linear", "naive"]
    _, baselines = runs(tmp_path, "tags.role = 'baseline'")
    assert [r.data.tags["arch"] for r in baselines] == ["naive"]


@pytest.mark.slow
def test_a_sweep_whose_every_trial_failed_exits_non_zero(tmp_path, sweep_args):
    args = [*sweep_args, "search.archs=[reshape_head]", "search.baselines=[]", "search.n_trials=2",
            "search.max_failures=2", "train.epochs=3",
            "++search.space.learning_rate={type:categorical,choices:[1e30]}"]
    result = subprocess.run([sys.executable, "-m", "src.sweep", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: no finished trial in sweep-reshape_head: every trial failed" in result.stderr
    assert states(load(tmp_path, "sweep-reshape_head")) == ["FAIL", "FAIL"]


@pytest.mark.slow
def test_one_of_two_workers_killed_still_exits_0_when_every_study_is_full(tmp_path, sweep_args):
    args = [*sweep_args, *LONG_TRIALS, "search.n_trials=3", "search.workers=2"]
    proc = _sweep_process(tmp_path, args)
    victim = _wait_for_running_trial(tmp_path, "sweep-reshape_head")
    os.kill(int(victim.user_attrs["worker_pid"]), signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert "(exit code -9) died; its trial was marked failed and retried" in output
    study = load(tmp_path, "sweep-reshape_head")
    assert study.trials[victim.number].state == TrialState.FAIL
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) >= 3
    [retry] = [t for t in study.trials
               if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim.number]
    assert retry.state in (TrialState.COMPLETE, TrialState.PRUNED) and retry.params == victim.params


@pytest.mark.slow
def test_a_pruned_trial_is_pruned_in_optuna_and_killed_in_mlflow(tmp_path, sweep_args):
    args = [a for a in sweep_args if not a.startswith("search.pruner")]
    run_sweep([*args, "search.archs=[reshape_head]", "search.baselines=[]", "search.n_trials=1",
               "train.epochs=3", *PRUNE_AT_ONCE])
    [trial] = load(tmp_path, "sweep-reshape_head").trials
    assert trial.state == TrialState.PRUNED and trial.last_step == 1
    _, [child] = runs(tmp_path, "tags.role = 'trial'")
    assert child.info.status == "KILLED"
    assert child.data.tags["trial_state"] == "PRUNED" and child.data.tags["pruned_at_epoch"] == "1"


def test_the_study_with_the_fewest_trials_goes_next(tmp_path):
    """Finished and running trials take a study's slots; a queued retry and a failed trial
    do not; full studies with running trials elsewhere mean wait, then done."""
    from optuna.trial import create_trial
    from omegaconf import OmegaConf

    from src.tuning.studies import SetupLock
    from src.tuning.worker import WAIT, next_study

    search = OmegaConf.create({"storage": None, "journal": str(tmp_path / "journal.log"),
                               "n_trials": 3, "max_failures": 2, "retries": 1})
    storage = optuna.storages.InMemoryStorage()
    a, b = (optuna.create_study(study_name=n, storage=storage) for n in "ab")
    jobs, lock = [("a", a), ("b", b)], SetupLock(search)
    done = create_trial(value=1.0)
    for study, n in ((a, 2), (b, 1)):
        for _ in range(n):
            study.add_trial(done)
    assert next_study(jobs, search, lock) == ("b", b)
    running = b.ask()
    b.enqueue_trial({})  # a queued retry
    b.add_trial(create_trial(state=TrialState.FAIL))
    assert next_study(jobs, search, lock) == ("a", a)  # 2 each: the first in order
    a.add_trial(done)
    assert next_study(jobs, search, lock) == ("b", b)
    b.add_trial(done)
    assert next_study(jobs, search, lock) is WAIT  # b's running trial may yet need a retry
    b.tell(running, 1.0)
    assert next_study(jobs, search, lock) is None
    c = optuna.create_study(study_name="c", storage=storage)
    for _ in range(2):
        c.add_trial(create_trial(state=TrialState.FAIL))
    assert next_study([*jobs, ("c", c)], search, lock) is None  # out of failures
    # Stopped by Ctrl+C, or failed with its worker and retried: not failures of their own.
    # Before, enough of them stopped a study for good, however often the sweep was rerun.
    d = optuna.create_study(study_name="d", storage=storage)
    for _ in range(2):
        d.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"interrupted": True}))
    d.add_trial(create_trial(state=TrialState.FAIL))
    d.add_trial(create_trial(value=1.0, system_attrs={"failed_trial": 2}))  # trial 2's retry
    assert next_study([*jobs, ("d", d)], search, lock) == ("d", d)


@pytest.mark.parametrize("arch", ARCHS)
def test_a_trials_config_is_what_hydra_composes_from_its_overrides(arch):
    """Trials set their sampled values on the study's composed config instead of composing
    again: the result must be the config `python -m src.train <the trial's overrides>` gets."""
    from omegaconf import OmegaConf

    from src.config import trained_by_gradient
    from src.overrides import merge_overrides
    from src.tuning.approaches import Approach
    from src.tuning.space import approach_space, as_overrides, suggest
    from src.tuning.trial import trial_config
    from src.tuning.worker import StudyJob

    base = ["train.learning_rate=0.05", "data.n_windows=300", "search.space.units.low=2",
            "++search.space.scaling={type:categorical,choices:[global,window,revin],key:data.scaling}"]
    approach = Approach(arch, "samples")  # not the default stacking: its overrides set data.stacking
    approach_cfg = make_cfg(*merge_overrides(base, approach.overrides))
    job = StudyJob(approach, approach_cfg, approach_space(approach_cfg), "parent", {})
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    values = suggest(trial, job.space, job.base_units)
    assert ("train.learning_rate" in values) == trained_by_gradient(approach_cfg.arch)
    assert ("arch.units" in values) == (job.base_units is not None) and "data.scaling" in values
    composed = make_cfg(*merge_overrides(base, [*approach.overrides, *as_overrides(values)]))
    assert OmegaConf.to_container(trial_config(job, values)) == OmegaConf.to_container(composed)
    assert OmegaConf.to_container(job.cfg) == OmegaConf.to_container(approach_cfg)  # left as it was


def test_a_searched_key_must_name_a_value_not_a_section():
    from src.tuning.space import check_space

    cfg = make_cfg("++search.space.source={type:categorical,choices:[a,b],key:data.source}")
    with pytest.raises(UserError, match="search.space.source.key: 'data.source' is a section, not a value"):
        check_space(cfg.search.space, cfg)


@pytest.mark.slow
def test_one_series_per_sample_makes_reshape_head_and_timedistributed_one_network():
    from src.tuning import approaches

    def arch_cfg(approach):
        units = ["arch.units=[3,2]"] if approach.arch != "linear" else []
        return make_cfg(*approach.overrides, *units).arch

    every = [approaches.Approach(a, s) for s in ("channels", "samples")
             for a in ("reshape_head", "timedistributed", "seq2seq", "linear")]
    kept, same = approaches.plan(every, arch_cfg, {"input_steps": 6, "horizon": 2, "n_series": 2})
    assert [a.label for a in kept] == ["reshape_head", "timedistributed", "seq2seq", "linear",
                                       "reshape_head-samples", "seq2seq-samples", "linear-samples"]
    assert same == {"timedistributed-samples": "reshape_head-samples"}


@pytest.mark.slow
def test_two_stackings_give_each_arch_a_study_per_stacking_with_equal_budgets(tmp_path, sweep_args, capsys):
    rows = run_sweep([*sweep_args, "search.archs=[reshape_head,timedistributed]",
                      "search.stackings=[channels,samples]", "search.baselines=[naive]",
                      "search.n_trials=1", "train.epochs=1"])
    client, study_runs = runs(tmp_path, "tags.role = 'study'")
    names = {r.data.tags["study"] for r in study_runs}
    assert names == {"sweep-reshape_head", "sweep-timedistributed", "sweep-reshape_head-samples"}
    for name in names:
        study = load(tmp_path, name)
        assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 1
    for run in study_runs:  # search.plots=false (FAST)
        assert run.data.params["data.stacking"] == run.data.tags["stacking"]  # was the sweep's default
        assert "best_params.json" in {a.path for a in client.list_artifacts(run.info.run_id)}
        assert client.list_artifacts(run.info.run_id, "plots") == []
    _, trials = runs(tmp_path, "tags.role = 'trial' and tags.approach = 'reshape_head-samples'")
    [trial] = trials
    assert trial.data.tags["stacking"] == trial.data.params["data.stacking"] == "samples"
    assert "data.stacking=samples" in trial.data.tags["reproduce"]
    by = {r["approach"]: r for r in rows}
    assert by["timedistributed-samples"]["trials"] == "= reshape_head-samples"
    assert "| timedistributed-samples" in capsys.readouterr().out
    from src.compare import compare

    cfg = make_cfg(*sweep_args, f"compare.report_dir={tmp_path}/r", "compare.repeats=0", "compare.register=false")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        report = compare(cfg)
    notes = {r["approach"]: r.get("notes", "") for r in report}
    assert "the same network as reshape_head-samples" in notes["timedistributed-samples"]
    assert {"reshape_head-samples", "reshape_head", "timedistributed", "naive"} <= set(notes)


def test_a_worker_stops_for_ctrl_c_between_batches_not_inside_whatever_it_was_doing():
    """The handler only records the request (raising from it could cut a database commit
    short); the training loop and the claim loop act on it."""
    from src.interrupts import Interrupt

    interrupt = Interrupt()
    interrupt.handle(signal.SIGINT, None)  # returns: whatever ran goes on to a safe point
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()


OFFERED = ["depth", "units", "taper", "learning_rate", "batch_size"]  # search/space/default.yaml's entries


def test_a_study_that_searches_fewer_parameters_is_said(caplog):
    from src.sweep import say_unequal_spaces
    from src.tuning.space import approach_space

    lstm = list(approach_space(make_cfg("arch=seq2seq")))
    assert lstm == OFFERED
    say_unequal_spaces({"reshape_head": list(approach_space(make_cfg())), "seq2seq": lstm}, OFFERED)
    assert not caplog.records
    scaling = "++search.space.scaling={type:categorical,choices:[global,window],key:data.scaling}"
    say_unequal_spaces({"seq2seq": [*lstm, "scaling"],
                        "linear": list(approach_space(make_cfg("arch=linear", scaling)))}, [*OFFERED, "scaling"])
    [record] = caplog.records
    assert record.getMessage().startswith("linear searches fewer parameters than the others (1, not 6: "
                                          "depth, units, taper, learning_rate, batch_size do not apply to it)")


@pytest.mark.parametrize("arch", ["linear", "naive", "ets", "seasonal_naive"])
def test_an_approach_not_trained_by_gradient_searches_no_train_setting(arch, caplog):
    """Before, a study of linear (ridge in closed form) sampled a learning rate and a batch
    size it never used: its trials were the same fit, and the sweep said it searched 2 of 5."""
    from src.sweep import say_unequal_spaces
    from src.tuning.space import approach_space

    assert approach_space(make_cfg(f"arch={arch}")) == {}
    say_unequal_spaces({"reshape_head": OFFERED, arch: []}, OFFERED)
    [record] = caplog.records
    assert record.getMessage() == (
        f"{arch} searches nothing: none of search.space's parameters (depth, units, taper, learning_rate, "
        "batch_size) applies to it, so its trials are all the same fit; list it in search.baselines to fit it once")


@pytest.mark.parametrize("suptitle", ["Slice Plot", None])
def test_a_study_plot_names_its_study_in_the_title(suptitle):
    """Optuna titles some plots on the figure and others on the first panel: either way the
    title names the study, once, and the objective replaces "Objective Value"."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from src.tuning.summary import readable

    figure, ax = plt.subplots()
    ax.set_ylabel("Objective Value")
    if suptitle:
        figure.suptitle(suptitle)
    else:
        ax.set_title("Optimization History Plot")
    readable(figure, "sweep-linear", "optimization_history")
    assert figure.get_suptitle() == f"sweep-linear: {suptitle or 'Optimization History Plot'}"
    assert ax.get_title() == "" and ax.get_ylabel() == "val_loss"
    plt.close(figure)


def test_workers_null_means_one_per_core_and_study_as_the_memory_allows(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 2_000_000}  # 8.2 GB: memory for 5
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    search = make_cfg().search
    assert worker_count(search, studies=6) == 4
    assert worker_count(search, studies=3) == 3
    pages["SC_PHYS_PAGES"] = 1_000_000  # 4.1 GB: for 2
    assert worker_count(search, studies=6) == 2
    pages["SC_PHYS_PAGES"] = 100_000
    assert worker_count(search, studies=6) == 1
    assert worker_count(make_cfg("search.workers=5").search, studies=3) == 5


@pytest.mark.slow
def test_a_study_summary_waits_for_the_set_up_lock(tmp_path, store):
    """Two coordinators of one sweep (two machines) end together: each writes the study
    summary into the shared parent run, and two inserts of one new tag at once failed on an
    MLflow server (UniqueViolation). The summary is written under the set-up lock."""
    import threading

    from src import tracking
    from src.sweep import summarise
    from src.tuning import studies

    cfg = make_cfg(*store, f"search.journal={tmp_path}/optuna/journal.log", "search.archs=[linear]")
    client = MlflowClient(tracking_uri=tracking.resolve_uri(cfg.tracking.uri))
    parent = client.create_run(tracking.use_experiment(cfg.tracking)).info.run_id
    study = optuna.create_study(study_name="sweep-linear", storage=studies.open_storage(cfg.search))
    lock = studies.SetupLock(cfg.search)
    with lock.held():
        writer = threading.Thread(target=summarise, args=(cfg, {"linear": (study, parent)}, {}, False, {}))
        writer.start()
        _wait_until_blocked_in(writer, "_file_lock")
        assert writer.is_alive() and client.get_run(parent).info.status == "RUNNING"
        assert "trials_complete" not in client.get_run(parent).data.metrics
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert client.get_run(parent).info.status == "FINISHED"
    assert client.get_run(parent).data.metrics["trials_complete"] == 0


def _wait_until_blocked_in(thread, function: str, timeout: float = 60) -> None:
    """Until `thread` has stayed in `function` (waiting on a lock) for a moment, or has ended:
    a wait on what the thread does, not a guess at how long it takes."""
    deadline, since = time.monotonic() + timeout, None
    while thread.is_alive() and time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident)
        inside = frame is not None and frame.f_code.co_name == function
        since = (since or time.monotonic()) if inside else None
        if since and time.monotonic() - since > 0.2:
            return
        time.sleep(0.01)

@pytest.mark.slow
def test_a_study_joining_its_sweep_on_other_data_is_refused(tmp_path, sweep_args):
    """Before, it was created and trained, and every report of the sweep then refused to run
    (its runs saw two splits)."""
    args = [*sweep_args, "search.archs=[linear]", "search.baselines=[]", "search.n_trials=1"]
    run_sweep(args)
    with pytest.raises(UserError, match=r"study 'sweep-linear' .* was grown with data.n_windows=200, now 201"):
        run_sweep([*args, "search.archs=[naive]", "data.n_windows=201"])
    journal = optuna.storages.journal.JournalFileBackend(f"{tmp_path}/optuna/journal.log")
    assert "sweep-naive" not in optuna.get_all_study_names(optuna.storages.JournalStorage(journal))


def test_the_coordinator_checks_a_sweep_without_importing_tensorflow(tmp_path):
    """Its check runs before the workers' server starts importing TensorFlow; importing it
    here too (resolving each arch's builder) would put seconds before that start."""
    code = ("import sys; from hydra import compose, initialize_config_dir; "
            "from src.config import CONF_DIR, register_configs; from src.sweep import check_sweep; "
            "register_configs(); initialize_config_dir(config_dir=str(CONF_DIR), version_base=None).__enter__(); "
            f"check_sweep(compose('config', overrides=['search.journal={tmp_path}/j.log', "
            f"'tracking.uri=sqlite:///{tmp_path}/m.db', 'tracking.artifact_root={tmp_path}/a']), []); "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr[-2000:]


@pytest.mark.slow
def test_a_sweep_that_trains_no_baseline_never_imports_tensorflow_in_its_coordinator(tmp_path, sweep_args):
    """Only its workers' server needs TensorFlow; the coordinator imported it all the same
    (the worker module and the epoch-logging Keras callback did), 2 CPU-seconds beside the server's
    own import of it."""
    args = [*sweep_args, "search.archs=[linear]", "search.baselines=[]", "search.n_trials=1"]
    code = ("import atexit, sys; from src.sweep import main; "
            "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules)); "
            f"sys.argv = ['src.sweep', *{args!r}]; main()")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[1/1 linear #0] COMPLETE" in result.stdout + result.stderr
    assert result.stdout.strip().endswith("tensorflow imported: False"), result.stdout[-2000:]


@pytest.mark.parametrize("entry, hint", [
    ("steps={type:int,low:20,high:40,key:data.input_steps}", r"a sweep per value \(search.name=...\)"),
    ("layout={type:categorical,choices:[channels,samples],key:data.stacking}", r"search.stackings=\[...\]"),
])
def test_a_data_key_that_changes_the_windows_is_not_searched(entry, hint):
    """Before, trials with other input lengths were scored on other validation windows (a
    trial of 20 steps on 14 windows from row 221, one of 40 on 3 from row 283), and the study
    picked its best across them; `make compare` then refused the whole sweep."""
    from src.tuning.space import check_space

    cfg = make_cfg(f"++search.space.{entry}")
    with pytest.raises(UserError, match=f"would score each trial on other windows or splits.*{hint}"):
        check_space(cfg.search.space, cfg)


def test_a_failed_trials_line_hides_a_password_in_its_error():
    """A trial's FAIL line quotes its error's first line, which named the URL as given
    (an MLflow server's HTTP error: `... for url: http://alice:<password>@host/...`)."""
    from src.tuning.supervisor import Progress, describe_event

    progress = Progress(done=0, total=1, several=False)
    trial = {"kind": "trial", "study": "linear", "trial": 0, "state": "FAIL", "seconds": 1.0,
             "note": "HTTPError: 413 Client Error: Request Entity Too Large for url: "
                     "http://alice:S3cretPW@127.0.0.1:5001/api/2.0/mlflow-artifacts/x"}
    stopped = {"kind": "error", "worker": 0,
               "message": "lost the MLflow server at http://alice:S3cretPW@127.0.0.1:5001"}
    for event in (trial, stopped):
        line = describe_event(event, progress)
        assert "S3cretPW" not in line and "http://alice:***@127.0.0.1:5001" in line


def test_a_seed_near_the_samplers_limit_still_gives_every_worker_a_sampler():
    """The workers add their index and the trials so far to the seed: 4294967295 passed the
    sweep's check, then every worker stopped with 'Seed must be between 0 and 2**32 - 1'."""
    from src.tuning.studies import build_sampler

    def first_draw(sampler) -> float:
        return optuna.create_study(sampler=sampler).ask().suggest_float("x", 0, 1)

    wrapped = build_sampler(make_cfg("search.sampler.seed=4294967295").search, seed_offset=1001)
    assert first_draw(wrapped) == first_draw(build_sampler(make_cfg("search.sampler.seed=1000").search))
    with pytest.raises(UserError, match="Seed must be between 0 and 2"):
        build_sampler(make_cfg("search.sampler.seed=4294967296").search)


def test_a_depth_or_units_bound_written_as_a_float_is_still_accepted():
    """The check on depth and units choices (integers of at least 1) is for categorical
    entries; an int entry's `low: 1.0` passes as before."""
    from src.tuning.space import check_space

    cfg = make_cfg("search.space.depth.low=1.0", "search.space.units.low=8.0")
    assert check_space(cfg.search.space, cfg)["depth"].low == 1.0


def test_sampled_nulls_and_booleans_are_written_as_hydra_reads_them():
    """A trial's `reproduce` command held train.jit_compile=None, which src.train refused."""
    from src.tuning.space import as_overrides

    assert as_overrides({"train.jit_compile": None}) == ["train.jit_compile=null"]
    assert as_overrides({"train.jit_compile": False}) == ["train.jit_compile=false"]
    assert make_cfg("train.jit_compile=true", *as_overrides({"train.jit_compile": None})).train.jit_compile is None


def test_a_grid_is_walked_once_whichever_process_asks():
    """Each trial process builds its sampler with a seed of its own; GridSampler orders its
    grid by the seed and takes a point by grid id, so two processes ran one point twice."""
    from omegaconf import OmegaConf

    from src.tuning.studies import build_sampler

    grid = {"a": list(range(8))}
    search = OmegaConf.create({"sampler": {"_target_": "optuna.samplers.GridSampler", "seed": 42,
                                           "search_space": grid}})
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(study_name="grid", storage=storage)
    seen = []
    for offset in range(4):  # a fresh process per trial, each with its own offset
        study = optuna.load_study(study_name="grid", storage=storage, sampler=build_sampler(search, offset * 1000 + offset))
        trial = study.ask()
        seen.append(trial.suggest_int("a", 0, 7))
        study.tell(trial, 0.0)
    assert len(set(seen)) == 4, seen


@pytest.mark.slow
def test_the_progress_count_stays_within_its_total_on_a_resume(tmp_path, sweep_args, capsys):
    """A study past its target (search.n_trials lowered) counted all its trials: [3/2 ...]."""
    args = [*sweep_args, "search.baselines=[]"]
    run_sweep([*args, "search.archs=[naive]", "search.n_trials=2"])
    capsys.readouterr()
    run_sweep([*args, "search.archs=[naive,linear]", "search.n_trials=1"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert lines and all(line.startswith("[2/2 linear #0]") for line in lines), lines


def test_a_study_stopped_by_its_failures_short_of_its_target_is_said(caplog):
    """One finished trial of three, then search.max_failures failed ones (a sampler whose
    package is missing): exit 0, and only the table's trials column showed it."""
    import logging

    from omegaconf import OmegaConf
    from optuna.trial import create_trial

    from src.sweep import check_outcome

    study = optuna.create_study(study_name="sweep-reshape_head")
    study.add_trial(create_trial(value=1.0))
    for _ in range(2):
        study.add_trial(create_trial(state=TrialState.FAIL))
    search = OmegaConf.create({"n_trials": 3, "max_failures": 2})
    with caplog.at_level(logging.WARNING, logger="src.sweep"):
        check_outcome(search, {"reshape_head": (study, "run")}, failed_workers=[])
    assert ("sweep-reshape_head (1 of 3): stopped short of the target after search.max_failures=2 "
            "failed trials") in caplog.text


def test_a_setting_searched_before_or_now_is_named_so():
    from omegaconf import OmegaConf

    from src.tuning.resume import check_same_settings

    search = OmegaConf.create({"storage": None, "journal": "j.log"})
    with pytest.raises(UserError, match=r"was grown with train.learning_rate searched, now 0.001: keep"):
        check_same_settings("s", {}, {"train.learning_rate": "0.001"}, search)
    with pytest.raises(UserError, match=r"was grown with train.epochs=2, now searched: keep"):
        check_same_settings("s", {"train.epochs": "2"}, {}, search)
    with pytest.raises(UserError, match=r"was grown with train.epochs=2, now 5: keep"):
        check_same_settings("s", {"train.epochs": "2"}, {"train.epochs": "5"}, search)
