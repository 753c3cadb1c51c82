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

import mlflow
import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from conftest import ROOT, run_cli
from test_sweep import fast_rerun, run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("services")]

SCRIPT = ROOT / "scripts" / "services.sh"
# Short, for the tests about dead workers and lost servers: a silent trial is failed after 4 s.
HEARTBEAT = ["search.heartbeat_interval=1", "search.grace_period=4"]
# Every other test: a live trial starved of CPU for a few seconds (a loaded 2-core machine)
# should not risk being failed as dead there, which would add a trial the test does not count.
RELAXED = ["search.heartbeat_interval=2", "search.grace_period=60"]
# One tiny LSTM study: trials that take as long as their epochs (the closed-form linear takes
# none), one batch per compiled call (tracing a loop of 8 costs more than a few epochs train),
# no MLflow model (the two tests that look at artifacts log it).
SHORT = ["search.workers=1", "data.n_windows=200", "train.jit_compile=false", "search.archs=[reshape_head]",
         "search.baselines=[]", "search.space.units.high=4", "search.space.units.low=2",
         "search.space.depth.high=1", "search.plots=false", "train.steps_per_execution=1",
         "tracking.log_model=false", "search.pruner.n_startup_trials=1", "search.pruner.n_warmup_steps=1"]
# Trials that run until a test kills a worker or a server: 8 batches per call keep each of
# their epochs short.
LONG = ["train.epochs=150", "train.patience=150", "train.steps_per_execution=8"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PASSWORD = "S3cret-pw-4711"  # distinct from every name, so a search for it finds only leaks


class Services:
    def __init__(self):
        # PostgreSQL runs as 'postgres' when the tests run as root: a folder it can enter.
        self.dir = Path(tempfile.mkdtemp(prefix="many2many-services-"))
        self.dir.chmod(0o755)
        self.pg_port, self.mlflow_port = _free_port(), _free_port()
        self.env = {**os.environ, "SERVICES_DIR": str(self.dir), "PG_PORT": str(self.pg_port),
                    "MLFLOW_PORT": str(self.mlflow_port), "PY": sys.executable, "PG_PASSWORD": PASSWORD}
        self._storages = {}

    def script(self, *args):
        subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=self.env, check=True,
                       capture_output=True, text=True, timeout=300)

    def database(self, name: str, password: str = PASSWORD) -> str:
        return f"postgresql+psycopg://many2many:{password}@127.0.0.1:{self.pg_port}/{name}"

    def storage(self, name: str = "optuna") -> optuna.storages.RDBStorage:
        """One Optuna storage (one connection pool) per database for the whole module:
        polling with a new one each time ran PostgreSQL out of connections."""
        if name not in self._storages:
            # pre-ping: the pool outlives the restarts of PostgreSQL some tests make
            self._storages[name] = optuna.storages.RDBStorage(
                self.database(name), engine_kwargs={"pool_pre_ping": True})
        return self._storages[name]

    def close(self):
        for storage in self._storages.values():
            storage.engine.dispose()

    @property
    def tracking(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"


@pytest.fixture(scope="session")  # xdist may run other modules between this one's tests
def services():
    started = Services()
    started.script("start")
    yield started
    started.close()
    started.script("stop")
    shutil.rmtree(started.dir, ignore_errors=True)


def _args(services, name, tmp_path, tracking=None, heartbeat=RELAXED):
    tracking_args = ([f"tracking.uri={tracking}"] if tracking else
                     [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", f"tracking.artifact_root={tmp_path}/a"])
    return [*tracking_args, "tracking.experiment=scale", f"search.storage={services.database('optuna')}",
            f"search.journal={tmp_path}/locks/journal.log", f"search.name={name}", *heartbeat, *SHORT]


def _study(services, name):
    return optuna.load_study(study_name=f"{name}-reshape_head", storage=services.storage())


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


def _assert_consistent(study, target, tracking_uri, name, workers=1):
    """At least `target` finished trials, at most workers - 1 more (two workers can start
    the last one at once), each with exactly one finished child run."""
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    numbers = [t.number for t in study.trials]
    assert target <= len(finished) <= target + workers - 1 and len(set(numbers)) == len(numbers)
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
            "search.workers=2", "train.epochs=3", "tracking.log_model=true"]
    run_sweep(args)
    study = _study(services, "shared")
    assert len({t.user_attrs["worker_pid"] for t in study.trials}) == len(study.trials)  # a fresh process each
    _assert_consistent(study, 4, services.tracking, "shared", workers=2)
    client, children = _children(services.tracking, "shared")
    artifacts = {a.path for a in client.list_artifacts(children[0].info.run_id)}
    assert {"config.yaml", "forecast.png"} <= artifacts  # through the server's artifact proxy
    logged = mlflow.artifacts.download_artifacts(artifact_uri=children[0].data.tags["model_uri"],
                                                 dst_path=str(tmp_path / "model"), tracking_uri=services.tracking)
    assert (Path(logged) / "artifacts" / "forecaster" / "network.keras").is_file()


def test_sweeps_started_together_on_two_machines_share_studies_and_baselines(services, tmp_path):
    """Two coordinators, each with its own working folder (as on two machines), run the
    same command at once: one parent run per study, each baseline trained once."""
    name = "machines"
    commands = [[*_args(services, name, tmp_path, services.tracking), "search.n_trials=4",
                 "search.baselines=[naive]", "train.epochs=3",
                 f"search.journal={tmp_path}/machine{i}/journal.log"] for i in range(2)]
    procs = [_popen(args) for args in commands]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], "\n".join(outputs)
    study = _study(services, name)
    _assert_consistent(study, 4, services.tracking, name, workers=2)
    client = MlflowClient(tracking_uri=services.tracking)
    experiment = client.get_experiment_by_name("scale").experiment_id
    for role in ("study", "baseline"):
        found = client.search_runs([experiment], f"tags.role = '{role}' and tags.sweep = '{name}'")
        assert len(found) == 1, [r.info.run_name for r in found]


def test_killed_worker_is_failed_after_the_grace_period_and_retried(services, tmp_path):
    args = [*_args(services, "killed", tmp_path, services.tracking, HEARTBEAT), "search.n_trials=3",
            "search.workers=2", *LONG]
    proc = _popen(args)
    victim = _wait_running(services, "killed")
    os.kill(int(victim.user_attrs["worker_pid"]), signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output  # one worker died: said, its trial retried, every study full
    assert "died; its trial was marked failed and retried" in output
    study = _study(services, "killed")
    orphan = study.trials[victim.number]
    assert orphan.state == TrialState.FAIL
    _assert_retry_ran(study, victim)
    _assert_consistent(study, 3, services.tracking, "killed", workers=2)


def _assert_retry_ran(study, victim):
    [retry] = [t for t in study.trials
               if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim.number]
    assert retry.params == victim.params and retry.state in (TrialState.COMPLETE, TrialState.PRUNED)


def test_the_whole_sweep_killed_and_rerun_at_once_retries_its_trial(services, tmp_path):
    """kill -9 of the sweep and its workers, then the same command at once: the trial is
    not stale yet, so the rerun waits for the grace period, fails it, and runs its retry
    (which once sat WAITING, never run, with the study one trial short)."""
    args = [*_args(services, "rerun", tmp_path, services.tracking, HEARTBEAT), "search.n_trials=2", *LONG]
    proc = _popen(args)
    victim = _wait_running(services, "rerun")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    fast_rerun(args)
    study = _study(services, "rerun")
    assert study.trials[victim.number].state == TrialState.FAIL
    _assert_retry_ran(study, victim)
    _assert_consistent(study, 2, services.tracking, "rerun")


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
    assert f"unreachable-{which}-reshape_head" not in optuna.get_all_study_names(services.storage())
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
    # A password in the server's URL too: MLflow's own logger, which Hydra's does not reach,
    # printed it in the failed requests' lines.
    tracking = services.tracking.replace("//", f"//alice:{PASSWORD}@", 1) if lost == "mlflow" else None
    args = [*_args(services, name, tmp_path, tracking, HEARTBEAT), "search.n_trials=2", *LONG]
    proc = _popen(args)
    _wait_running(services, name)
    services.script("stop", lost)
    try:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode != 0
        what = "database" if lost == "postgres" else "MLflow tracking server"
        assert f"lost the {what}" in output and "run the same command again" in output, output
        assert PASSWORD not in output
    finally:
        services.script("start")
    fast_rerun(args)
    _assert_consistent(_study(services, name), 2, tracking or f"sqlite:///{tmp_path}/mlflow.db", name)


def test_no_password_reaches_mlflow_or_the_output(services, tmp_path, monkeypatch):
    """A sweep and a report with the database password in search.storage and a password in
    tracking.uri: no param, tag, metric key, artifact or printed line holds it. Even where
    the user's environment asks MLflow to print each run's link, which held the password."""
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")
    tracking = f"http://alice:{PASSWORD}@127.0.0.1:{services.mlflow_port}"
    args = [*_args(services, "secret", tmp_path, tracking), "search.n_trials=1", "train.epochs=1",
            "search.baselines=[naive]", f"compare.report_dir={tmp_path}/reports", "compare.repeats=1",
            "tracking.log_model=true"]  # its files are artifacts too
    outputs = []
    for module in ("src.sweep", "src.compare"):
        result = run_cli(module, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout + result.stderr)
    assert PASSWORD not in "".join(outputs)

    client = MlflowClient(tracking_uri=services.tracking)
    experiment = client.get_experiment_by_name("scale").experiment_id
    found = client.search_runs([experiment], "tags.sweep = 'secret'")
    assert {r.data.tags["role"] for r in found} >= {"study", "trial", "baseline", "comparison", "repeat"}
    for run in found:
        text = repr((run.data.params, run.data.tags, list(run.data.metrics)))
        assert PASSWORD not in text, run.info.run_name
        folder = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / run.info.run_id)))
        for file in folder.rglob("*"):
            if file.is_file():
                assert PASSWORD.encode() not in file.read_bytes(), (run.info.run_name, file.name)
    storage_params = [r.data.params.get("search.storage") for r in found if r.data.tags["role"] == "study"]
    assert storage_params and all(":***@" in p for p in storage_params)


def _server_commands(services) -> list[bytes]:
    """The command lines of the MLflow server's processes (its session)."""
    pid = int((services.dir / "mlflow.pid").read_text())
    group = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _in_group(p, pid)]
    assert group  # the server and the workers it started
    return [(process / "cmdline").read_bytes() for process in group]


def test_the_mlflow_server_command_line_holds_no_password(services):
    for command in _server_commands(services):
        assert PASSWORD.encode() not in command
    assert (services.dir / "pgpass").stat().st_mode & 0o077 == 0  # owner only


def test_the_mlflow_server_runs_without_mlflows_job_runner(services):
    """Its job runner (GenAI jobs, none here) started eight processes that each imported
    MLflow: 26 CPU-seconds and 2.4 GB at every start, beside the sweeps."""
    assert not [c for c in _server_commands(services) if b"huey" in c or b"_job_runner" in c]


def _in_group(proc: Path, group: int) -> bool:
    try:
        return os.getpgid(int(proc.name)) == group
    except (ProcessLookupError, PermissionError):
        return False
