"""The scaled-out mode against real servers: PostgreSQL (Optuna's RDB storage, MLflow's
backend) and an `mlflow server`, started on 127.0.0.1 by scripts/services.sh in a
temporary folder and stopped afterwards. No mocks."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from conftest import ROOT, run_cli
from src.config import UserError
from test_sweep import run_sweep

pytestmark = pytest.mark.slow

SCRIPT = ROOT / "scripts" / "services.sh"
HEARTBEAT = ["search.heartbeat_interval=1", "search.grace_period=4"]
SHORT = ["data.n_windows=200", "train.jit_compile=false", "search.archs=[linear]",
         "search.baselines=[]", "search.space.units.high=4", "search.space.units.low=2",
         "search.pruner.n_startup_trials=1", "search.pruner.n_warmup_steps=1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Services:
    def __init__(self):
        # PostgreSQL runs as 'postgres' when the tests run as root: a folder it can enter.
        self.dir = Path(tempfile.mkdtemp(prefix="many2many-services-"))
        self.dir.chmod(0o755)
        self.pg_port, self.mlflow_port = _free_port(), _free_port()
        self.env = {**os.environ, "SERVICES_DIR": str(self.dir), "PG_PORT": str(self.pg_port),
                    "MLFLOW_PORT": str(self.mlflow_port), "PY": sys.executable}

    def script(self, *args):
        subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=self.env, check=True,
                       capture_output=True, text=True, timeout=300)

    def database(self, name: str, password: str = "many2many") -> str:
        return f"postgresql+psycopg://many2many:{password}@127.0.0.1:{self.pg_port}/{name}"

    @property
    def tracking(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"


@pytest.fixture(scope="module")
def services():
    started = Services()
    started.script("start")
    yield started
    started.script("stop")
    shutil.rmtree(started.dir, ignore_errors=True)


def _args(services, name, tmp_path, tracking=None):
    tracking_args = ([f"tracking.uri={tracking}"] if tracking else
                     [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", f"tracking.artifact_root={tmp_path}/a"])
    return [*tracking_args, "tracking.experiment=scale", f"search.storage={services.database('optuna')}",
            f"search.journal={tmp_path}/locks/journal.log", f"search.name={name}", *HEARTBEAT, *SHORT]


def _study(services, name):
    return optuna.load_study(study_name=f"{name}-linear", storage=services.database("optuna"))


def _children(tracking_uri, name):
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("scale")
    parent = client.search_runs([experiment.experiment_id], f"tags.role = 'study' and tags.sweep = '{name}'")[0]
    return client, client.search_runs([experiment.experiment_id],
                                      f"tags.mlflow.parentRunId = '{parent.info.run_id}'")


def _popen(args):
    # One retry, not three: a lost server is what these tests are about.
    env = {**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}
    return subprocess.Popen([sys.executable, "-m", "src.sweep", *args], cwd=ROOT, text=True, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_running(services, name, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            running = _study(services, name).get_trials(states=(TrialState.RUNNING,))
            if running and "mlflow_run_id" in running[0].user_attrs:
                return running[0]
        except KeyError:
            pass
        time.sleep(0.5)
    raise AssertionError("no trial started")


def _assert_consistent(study, target, tracking_uri, name):
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    numbers = [t.number for t in study.trials]
    assert len(finished) == target and len(set(numbers)) == len(numbers)
    _, children = _children(tracking_uri, name)
    by_trial = {}
    for run in children:
        by_trial.setdefault(int(run.data.tags["trial_number"]), []).append(run)
    for trial in finished:  # exactly one child run per finished trial, and it finished
        [run] = by_trial[trial.number]
        assert run.info.status in ("FINISHED", "KILLED") and run.data.tags["trial_state"] == trial.state.name
    assert not [r for r in children if r.info.status == "RUNNING"]


def test_two_workers_share_a_study_on_postgres_and_a_tracking_server(services, tmp_path):
    args = [*_args(services, "shared", tmp_path, services.tracking), "search.n_trials=4",
            "search.workers=2", "train.epochs=3"]
    run_sweep(args)
    study = _study(services, "shared")
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert {t.user_attrs["worker"] for t in study.trials} == {0, 1}
    assert len({t.user_attrs["worker_pid"] for t in study.trials}) == 4  # a fresh process per trial
    _assert_consistent(study, 4, services.tracking, "shared")
    client, children = _children(services.tracking, "shared")
    artifacts = {a.path for a in client.list_artifacts(children[0].info.run_id)}
    assert {"config.yaml", "forecast.png", "model"} <= artifacts  # through the server's artifact proxy


def test_sweeps_started_together_on_two_machines_share_studies_and_baselines(services, tmp_path):
    """Two coordinators, each with its own working folder (as on two machines), run the
    same command at once: one parent run per study, each baseline trained once."""
    name = "machines"
    commands = [[*_args(services, name, tmp_path, services.tracking), "search.n_trials=4",
                 "search.baselines=[naive]", "train.epochs=3",
                 f"search.journal={tmp_path}/machine{i}/journal.log"] for i in range(2)]
    procs = [_popen(args) for args in commands]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    study = _study(services, name)
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    _assert_consistent(study, 4, services.tracking, name)
    client = MlflowClient(tracking_uri=services.tracking)
    experiment = client.get_experiment_by_name("scale").experiment_id
    for role in ("study", "baseline"):
        found = client.search_runs([experiment], f"tags.role = '{role}' and tags.sweep = '{name}'")
        assert len(found) == 1, [r.info.run_name for r in found]


def test_killed_worker_is_failed_after_the_grace_period_and_retried(services, tmp_path):
    args = [*_args(services, "killed", tmp_path, services.tracking), "search.n_trials=3",
            "search.workers=2", "train.epochs=150", "train.patience=150"]
    proc = _popen(args)
    victim = _wait_running(services, "killed")
    os.kill(int(victim.user_attrs["worker_pid"]), signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, output  # one worker died: said, and the rest finished
    study = _study(services, "killed")
    orphan = study.trials[victim.number]
    assert orphan.state == TrialState.FAIL
    retried = [t for t in study.trials
               if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim.number]
    assert len(retried) == 1 and retried[0].params == orphan.params
    _assert_consistent(study, 3, services.tracking, "killed")


@pytest.mark.parametrize("which", ["storage", "tracking"])
def test_unreachable_at_start_is_one_line_and_writes_nothing(services, tmp_path, which):
    closed = _free_port()
    args = _args(services, f"unreachable-{which}", tmp_path, services.tracking)
    if which == "storage":
        args.append(f"search.storage=postgresql+psycopg://many2many:many2many@127.0.0.1:{closed}/optuna")
        expected = f"error: Optuna storage at postgresql+psycopg://many2many:***@127.0.0.1:{closed}/optuna is unreachable"
    else:
        args.append(f"tracking.uri=http://127.0.0.1:{closed}")
        expected = f"error: MLflow tracking server at http://127.0.0.1:{closed} is unreachable"
    result = run_cli("src.sweep", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [l for l in result.stderr.splitlines() if l.startswith("error")][0].startswith(expected)
    assert f"unreachable-{which}-linear" not in optuna.get_all_study_names(services.database("optuna"))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("url, message", [
    ("wrong-password", 'password authentication failed for user "many2many"'),
    ("no-database", 'database "nope" does not exist'),
])
def test_wrong_password_or_database_is_a_clear_error(services, tmp_path, url, message):
    storage = services.database("optuna", "wrong") if url == "wrong-password" else services.database("nope")
    result = run_cli("src.sweep", *_args(services, "bad", tmp_path), f"search.storage={storage}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("error")]
    assert len(errors) == 1 and message in errors[0] and ":***@" in errors[0]


@pytest.mark.parametrize("lost", ["postgres", "mlflow"])
def test_service_lost_mid_sweep_then_rerun(services, tmp_path, lost):
    name = f"lost-{lost}"
    tracking = services.tracking if lost == "mlflow" else None
    args = [*_args(services, name, tmp_path, tracking), "search.n_trials=2", "train.epochs=150",
            "train.patience=150"]
    proc = _popen(args)
    _wait_running(services, name)
    services.script("stop", lost)
    try:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode != 0
        what = "database" if lost == "postgres" else "MLflow tracking server"
        assert f"lost the {what}" in output and "run the same command again" in output, output
    finally:
        services.script("start")
    run_sweep(args)
    _assert_consistent(_study(services, name), 2, tracking or f"sqlite:///{tmp_path}/mlflow.db", name)
