"""Bad input and stored data a user or a shared store can hand us: each is one clear line
(exit code 2 from the CLI), and nothing is created. The README's bad-input table lists them."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from hydra import initialize_config_dir

from conftest import CONF_DIR, ROOT, make_cfg, run_cli, store_overrides, write_csv
from src import services
from src.cli import answer_before_hydra, precompose
from src.config import UserError, build, load_stored, validate
from src.data.model_inputs import prepare
from src.evaluation import evaluate, naive_forecast
from src.redact import redact
from src.tuning import studies
from src.tuning.space import check_space


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("override, message", [
    ("train.epochs=abc", "error: train.epochs: expected an integer, got 'abc'"),
    ("data.input_steps=1e9", "error: data.input_steps: expected an integer, got '1000000000.0'"),
    ("train.jit_compile=maybe", "error: train.jit_compile: expected true or false, got 'maybe'"),
    ("arch.units=[a]", "error: arch.units[0]: expected an integer, got 'a'"),
    ("foo=1", "error: foo: unknown key"),
    ("data.columns=[a]", "error: data.columns: unknown key"),
    ("train.epochs=[1", "error: cannot parse override 'train.epochs=[1'"),
    # A field the entry leaves out, or a new entry: Hydra's own hint to use + was lost.
    ("search.space.depth.step=2", "error: search.space.depth.step: not set in this entry; add it with a "
                                  "leading +: +search.space.depth.step=..."),
    ("search.space.scaling={type:categorical,choices:[global,window],key:data.scaling}",
     "error: search.space.scaling: no such entry in search.space; add one with a leading ++: "
     "'++search.space.scaling={type:float,low:...,high:...,key:...}'"),
    ("search.space.depth.nope=2", "error: search.space.depth.nope: unknown key"),
])
def test_compose_errors_are_one_line_and_exit_2(capsys, override, message):
    with pytest.raises(SystemExit) as exit_:
        precompose("config", ["arch=seq2seq", override])
    assert exit_.value.code == 2
    assert one_error_line(capsys).startswith(message)


def test_compose_error_from_the_command_line(tmp_path):
    result = run_cli("src.train", "train.epochs=abc", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 2 and "HYDRA_FULL_ERROR" not in result.stderr
    assert result.stderr.strip().splitlines() == ["error: train.epochs: expected an integer, got 'abc'"]


@pytest.mark.parametrize("override", ["+foo=1", "+data.foo=1"])
def test_an_unknown_forecast_key_is_refused_before_anything_is_read(tmp_path, override):
    """Before, `python -m src.forecast +foo=1` forecast as if it were not there."""
    from src.forecast import forecast

    cfg = make_cfg(override, f"out_dir={tmp_path}/out", f"tracking.uri=sqlite:///{tmp_path}/none.db",
                   config_name="forecast")
    key = override[1:].split("=")[0]
    with pytest.raises(UserError, match=f"^{key}: unknown key .*python -m src.forecast --cfg job"):
        forecast(cfg)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("override, message", [
    ("+foo=1", "foo: unknown key"),
    ("+train.foo=1", "train.foo: unknown key"),
    ("seed=-1", "seed must lie between 0 and 4294967295, got -1"),
    ("seed=4294967296", "seed must lie between 0 and 4294967295"),
    ("data.seed=-1", "data.seed must lie between 0 and 4294967295"),
    ("data.noise=-1", "data.noise must be 0 or more"),
    ("data.trend=inf", "data.trend must be a finite number"),
    ("train.learning_rate=inf", "train.learning_rate must be a finite number"),
    ("train.patience=-1", "train.patience must be 0 or more"),
    ("train.verbose=7", "train.verbose must be 0, 1, 2 or null"),
    ("tracking.experiment=", "tracking.experiment must not be empty"),
    ("tracking.forecast_windows=0", "tracking.forecast_windows must be a positive integer"),
    ("compare.repeats=-1", "compare.repeats must be 0 or more"),
    ("search.retries=-1", "search.retries must be 0 or more"),
    ("search.workers=0", "search.workers must be at least 1 or null, got 0"),
    ("search.grace_period=15", r"search.grace_period \(15 s\) must be at least twice search.heartbeat_interval \(10 s\)"),
    ("bench.repeats=0", "bench.repeats must be a positive integer"),
    ("data.source._target_=os.system", "data.source._target_: 'os.system' is not allowed"),
    # Names are stored and shown as given: a run name reached MLflow's runName unhidden.
    ("run_name=http://a:S3cretPW@x", r"run_name holds a password in a URL \(http://a:\*\*\*@x\)"),
    ("tracking.experiment=http://a:S3cretPW@x", "tracking.experiment holds a password in a URL"),
    ("search.name=http://a:S3cretPW@x", "search.name holds a password in a URL"),
])
def test_every_value_is_checked_before_anything_runs(override, message):
    with pytest.raises(UserError, match=message):
        validate(make_cfg(override))


def test_a_column_named_twice_is_refused():
    with pytest.raises(UserError, match="data.columns names load more than once"):
        validate(make_cfg("data=csv", "data.path=x.csv", "data.columns=[load,load]"))


def test_sweep_quick_preset_works_with_an_empty_search_space():
    cfg = make_cfg("experiment=sweep_quick", "search/space=none")
    validate(cfg)
    assert cfg.search.space == {} and check_space(cfg.search.space, cfg) == {}


@pytest.mark.parametrize("uri, message", [
    ("ftp://x", "tracking.uri: cannot use 'ftp://x'"),
    ("nonsense", "tracking.uri: cannot use 'nonsense'"),
    ("file:///tmp/mlruns", "tracking.uri: cannot use 'file:///tmp/mlruns'"),
])
def test_unusable_tracking_uri_is_named(uri, message):
    with pytest.raises(UserError, match=message):
        services.check_tracking(uri)


def test_unwritable_or_folder_sqlite_store_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create the MLflow store .* is not a writable folder"):
        services.check_tracking(f"sqlite:///{blocker}/sub/mlflow.db")
    with pytest.raises(UserError, match="is a folder; name the database file"):
        services.check_tracking(f"sqlite:///{tmp_path}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.slow
@pytest.mark.parametrize("root, message", [
    ("s3://u:S3cretPW@127.0.0.1:9/bucket", "tracking.artifact_root: 's3://u:\\*\\*\\*@127.0.0.1:9/bucket' is not a folder path"),
    ("/proc/nope", "tracking.artifact_root: cannot create /proc/nope"),
])
def test_an_unusable_artifact_root_stops_a_run_before_it_starts(store, root, message):
    """Before, the URL became a local folder named after it, password included (also in the
    experiment's artifact location), and /proc/nope a traceback and a FAILED run."""
    from src.train import train

    with pytest.raises(UserError, match=message):
        train(make_cfg(*store, f"tracking.artifact_root={root}", "data.n_windows=200", "train.epochs=1"))
    client = MlflowClient(tracking_uri=store[0].split("=", 1)[1])
    assert [e.name for e in client.search_experiments()] == ["Default"]
    assert not list(ROOT.glob("s3:*"))


def test_a_password_in_a_data_path_url_is_hidden():
    """pathlib made the URL's '//' one '/', which redaction did not recognise."""
    from src.data.sources import read_csv

    with pytest.raises(UserError) as err:
        read_csv("http://u:S3cretPW@127.0.0.1:9/x.csv")
    assert "S3cretPW" not in redact(str(err.value)) and "no such file" in str(err.value)


@pytest.mark.slow
def test_bad_tracking_uri_from_the_command_line_creates_nothing(tmp_path):
    result = run_cli("src.train", "tracking.uri=ftp://x", "data.n_windows=200", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: tracking.uri: cannot use 'ftp://x'")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_password_in_an_unreachable_tracking_uri_is_hidden(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    result = run_cli("src.train", f"tracking.uri=http://alice:S3cret-pw@127.0.0.1:{closed}",
                     "data.n_windows=200", cwd=tmp_path)
    assert result.returncode == 2 and "S3cret-pw" not in result.stderr + result.stdout
    assert f"http://alice:***@127.0.0.1:{closed} is unreachable" in result.stderr


def test_printed_and_logged_commands_hold_no_password_even_when_quoted():
    """The reproduce tag and the sweep's compare hint, which quote each override for the
    shell."""
    from src.overrides import reproduce_command
    from src.sweep import compare_hint

    overrides = ["tracking.uri=postgresql+psycopg://u@db/mlflow?sslmode=require&password=it's-secret",
                 "search.storage=postgresql+psycopg://u:p/w@db/optuna", "arch=linear"]
    for command in (reproduce_command(overrides), compare_hint(overrides)):
        assert "secret" not in command and "p/w" not in command and "arch=linear" in command


@pytest.mark.parametrize("text, expected", [
    ("postgresql+psycopg://u:pw@db:5432/optuna", "postgresql+psycopg://u:***@db:5432/optuna"),
    ("tracking.uri=http://alice:s%40cret@h:5000 and sqlite:///x.db",
     "tracking.uri=http://alice:***@h:5000 and sqlite:///x.db"),
    ("http://user@host/x", "http://user@host/x"),
    ("storage: mysql://root:toor@127.0.0.1/db\n", "storage: mysql://root:***@127.0.0.1/db\n"),
    ("http://127.0.0.1:5000/api/2.0/mlflow/runs/get?run_id=1", "http://127.0.0.1:5000/api/2.0/mlflow/runs/get?run_id=1"),
    # What SQLAlchemy reads as the password: up to the first '@' ('/' included), or the
    # `password` query parameter. Both reached params and tags before.
    ("postgresql+psycopg://alice:ab/cd+ef@db:5432/mlflow", "postgresql+psycopg://alice:***@db:5432/mlflow"),
    ("postgresql+psycopg://alice@db/optuna?password=s3cr3t&sslmode=require",
     "postgresql+psycopg://alice@db/optuna?password=***&sslmode=require"),
    # An HTTP client reads the password up to the last '@': before, 'S3cretPW' showed.
    ("tracking.uri=http://alice:Pa@S3cretPW@127.0.0.1:5000 x", "tracking.uri=http://alice:***@127.0.0.1:5000 x"),
])
def test_redact_hides_only_passwords(text, expected):
    assert redact(text) == expected
    from sqlalchemy.engine import make_url
    from urllib3.util import parse_url

    if text.startswith("postgresql"):
        url = make_url(text)
        assert (url.password or url.query.get("password")) not in redact(text)
    for word in text.split():
        auth = parse_url(word.split("=", 1)[-1]).auth if "http://" in word else None
        if auth and ":" in auth:
            assert auth.split(":", 1)[1] not in redact(text)


def test_every_logger_is_redacted_even_one_with_a_handler_of_its_own():
    """MLflow's logger prints through its own handler, not the root logger's: a failed
    request's line printed the tracking server's password, and so could its traceback."""
    import io
    import logging

    from src.redact import redact_logging

    printed = io.StringIO()
    own = logging.getLogger("test.own_handler")
    own.propagate, handler = False, logging.StreamHandler(printed)
    own.addHandler(handler)
    try:
        redact_logging()
        factory = logging.getLogRecordFactory()
        redact_logging()
        assert logging.getLogRecordFactory() is factory  # a second call wraps nothing again
        own.error("API request to %s failed", "http://alice:S3cretPW@127.0.0.1:5000/api")
        logging.raiseExceptions = False  # logging's own report of the next record, not printed
        own.error("%d windows", "not a number")  # arguments that do not fit: no exception here
        try:
            raise ConnectionError("http://alice:S3cretPW@127.0.0.1:5000 refused")
        except ConnectionError:
            own.exception("lost the server")
    finally:
        logging.raiseExceptions = True
        own.removeHandler(handler)
    assert "S3cretPW" not in printed.getvalue()
    assert "http://alice:***@127.0.0.1:5000/api failed" in printed.getvalue()
    assert "ConnectionError: http://alice:***@127.0.0.1:5000 refused" in printed.getvalue()


@pytest.mark.parametrize("content, message", [
    ("another database", "is an SQLite database without MLflow's tables, which MLflow would add to it"),
    ("a CSV", "is not an MLflow store (file is not a database)"),
])
def test_a_tracking_uri_at_a_file_that_is_no_mlflow_store_is_refused_untouched(tmp_path, content, message):
    """Before, MLflow added its ~30 tables to the user's database (src.train, src.sweep,
    src.compare, src.forecast), or failed with a traceback on a file that is no database."""
    import hashlib
    import sqlite3

    from src.forecast import forecast
    from src.report.runs import load_sweep_runs
    from src.train import train

    path = tmp_path / "theirs.db"
    if content == "a CSV":
        path.write_text("date,s0\n2024-01-01,1\n")
    else:
        with sqlite3.connect(path) as db:
            db.execute("create table orders (id integer)")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    store = [f"tracking.uri=sqlite:///{path}", f"tracking.artifact_root={tmp_path}/art"]
    run_cfg = make_cfg(*store, "data.n_windows=200", "train.epochs=1")
    forecast_cfg = make_cfg(*store[:1], f"out_dir={tmp_path}/out", config_name="forecast")
    calls = [lambda: train(run_cfg), lambda: forecast(forecast_cfg),
             lambda: load_sweep_runs(run_cfg.tracking, "sweep")]
    for call in calls:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None), \
                pytest.raises(UserError, match=f"tracking.uri: {path} {re.escape(message)}"):
            call()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.db"]


def test_a_store_whose_writer_was_killed_mid_transaction_is_still_a_store(tmp_path):
    """kill -9 of a process writing the store leaves a hot journal, which the next reader must
    roll back: the read-only check could not and refused the store as 'not an MLflow store
    (attempt to write a readonly database)' (a CI run's rerun after a killed sweep)."""
    import sqlite3

    path = tmp_path / "mlflow.db"
    writer = ("import os, signal, sqlite3, sys\n"
              "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "for table in ('alembic_version', 'experiments', 'runs'):\n"
              "    db.execute(f'create table {table} (x)')\n"
              "db.execute('pragma cache_size=2')\n"  # pages spill into the file before commit
              "db.execute('begin')\n"
              "for _ in range(200):\n"
              "    db.execute('insert into runs values (?)', ('x' * 3000,))\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", writer, str(path)], check=False)
    assert (tmp_path / "mlflow.db-journal").stat().st_size > 0

    services.check_store_exists(f"sqlite:///{path}", "hint")
    services.check_tracking(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # rolled back: the killed transaction's rows are gone
        assert db.execute("select count(*) from runs").fetchone() == (0,)


def test_the_commands_that_only_read_say_in_one_line_that_a_server_is_unreachable():
    """src.compare (and src.forecast) read a tracking server without checking it first:
    MLflow's client retried, then ended in a traceback; src.sweep said it in one line."""
    from src.report.runs import load_sweep_runs

    tracking = make_cfg("tracking.uri=http://u:S3cretPW@127.0.0.1:9").tracking
    with pytest.raises(services.ServiceUnavailable,
                       match=r"MLflow tracking server at http://u:\*\*\*@127.0.0.1:9 is unreachable") as caught:
        load_sweep_runs(tracking, "sweep")
    assert "S3cretPW" not in str(caught.value)


def test_an_empty_file_is_no_store_for_the_commands_that_only_read(tmp_path):
    from src.forecast import forecast

    (tmp_path / "empty.db").touch()
    cfg = make_cfg(f"tracking.uri=sqlite:///{tmp_path}/empty.db", f"out_dir={tmp_path}/out", config_name="forecast")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None), \
            pytest.raises(UserError, match="no MLflow store at sqlite:///.*empty.db"):
        forecast(cfg)
    assert (tmp_path / "empty.db").stat().st_size == 0


@pytest.fixture(scope="module")
def saved_forecaster(tmp_path_factory):
    """A tiny forecaster as a run logs it: 6 steps in, 2 out, 2 series."""
    from src.data.scaling import Scaler
    from src.models.recurrent import reshape_head
    from src.serving.forecaster import Forecaster

    folder = tmp_path_factory.mktemp("forecaster")
    Forecaster(network=reshape_head(6, 2, 2, [2]), scaler=Scaler("global", np.zeros(2), np.ones(2)),
               stacking="channels", series=["s0", "s1"], input_steps=6, horizon=2).save(folder)
    return folder


@pytest.mark.parametrize("edit, message", [
    ({"scaler": {"mode": "bogus"}}, "scaler mode 'bogus' is not one of global, window, revin"),
    ({"input_steps": 30}, r"the network maps \(None, 6, 2\) to \(None, 2, 2\), the settings say \(None, 30, 2\)"),
    ({"stacking": "samples"}, r"the settings say \(None, 6, 1\) to \(None, 2, 1\)"),
    ({"series": [0, 1]}, "series must be a list of column names, got \\[0, 1\\]"),
    ({"scaler": {"std": None}}, "the scaler needs a finite mean and a positive std for each of the 2 series"),
])
def test_a_forecaster_whose_settings_disagree_is_refused(saved_forecaster, tmp_path, edit, message):
    """Before: tracebacks from Keras or pandas, and with an unknown scaler mode a forecast in
    the wrong units (treated as global) without a word."""
    import shutil

    from src.serving.forecaster import SETTINGS_FILE, Forecaster

    folder = shutil.copytree(saved_forecaster, tmp_path / "copy")
    Forecaster.load(folder)  # as saved, it loads
    settings = json.loads((folder / SETTINGS_FILE).read_text())
    for key, value in edit.items():
        settings[key] = {**settings[key], **value} if isinstance(value, dict) else value
    (folder / SETTINGS_FILE).write_text(json.dumps(settings))
    with pytest.raises(ValueError, match=message):
        Forecaster.load(folder)


def test_forecast_files_in_the_way_are_one_line_and_nothing_is_written(tmp_path):
    """Before: forecast.png being a folder was a traceback after forecast.csv was written, and
    `out_dir=` wrote into the current folder."""
    from src.forecast import forecast, write_files

    (tmp_path / "out" / "forecast.png").mkdir(parents=True)
    store = f"tracking.uri=sqlite:///{tmp_path}/none.db"
    in_the_way = make_cfg(f"out_dir={tmp_path}/out", store, config_name="forecast")
    empty = make_cfg("out_dir=", store, config_name="forecast")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        with pytest.raises(UserError, match=f"^out_dir: {tmp_path}/out/forecast.png is a folder"):
            forecast(in_the_way)
        with pytest.raises(UserError, match="^out_dir must not be empty"):
            forecast(empty)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["forecast.png"]

    def fails(path):
        raise OSError(28, "No space left on device")

    (tmp_path / "out" / "forecast.csv").write_text("old")
    with pytest.raises(UserError, match="cannot write .*forecast.png: No space left on device"):
        write_files(tmp_path / "out", {"forecast.csv": lambda path: path.write_text("new"), "forecast.png": fails})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["forecast.csv", "forecast.png"]
    assert (tmp_path / "out" / "forecast.csv").read_text() == "old"  # not replaced without its figure


@pytest.mark.parametrize("override", ["search.pruner=null", "search.sampler=null"])
def test_a_null_sampler_or_pruner_is_one_line_before_any_study(tmp_path, override):
    """Before: an AttributeError traceback, the pruner's after its study was created."""
    from src.sweep import check_sweep

    cfg = make_cfg(override, *store_overrides(tmp_path), f"search.journal={tmp_path}/j.log")
    with pytest.raises(UserError, match=f"^{override.split('=')[0]} cannot be null: name a class"):
        check_sweep(cfg, [override])
    assert not list(tmp_path.iterdir())


def test_a_sweep_refused_for_its_data_creates_no_artifact_folder(tmp_path):
    """The artifact folder was made before the data was read (src.train made none)."""
    from src.sweep import sweep

    path = tmp_path / "short.csv"
    pd.DataFrame({"load": np.arange(20.0)}).to_csv(path, index=False)
    overrides = [*store_overrides(tmp_path), f"search.journal={tmp_path}/j.log", "data=csv", f"data.path={path}"]
    with pytest.raises(UserError, match="too few rows"):
        sweep(make_cfg(*overrides), overrides)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.csv"]


@pytest.mark.slow  # a sweep in this process: its workers' server starts (and imports TensorFlow)
@pytest.mark.parametrize("where", ["search.baselines=[naive,seasonal_naive]", "search.archs=[seasonal_naive]"])
def test_a_seasonal_period_longer_than_the_window_stops_a_sweep_in_one_line(tmp_path, where):
    """src.train refused it, but a sweep checked only its config's own arch: as a baseline a
    Keras traceback with a RUNNING study run left behind, as a study five FAILED trials."""
    from src.sweep import sweep

    path = tmp_path / "one.csv"
    pd.DataFrame({"load": np.sin(np.arange(300) / 5)}).to_csv(path, index=False)
    overrides = [*store_overrides(tmp_path), f"search.journal={tmp_path}/j.log", "data=csv", f"data.path={path}",
                 "data.input_steps=10", "data.horizon=5", "search.workers=1", where]
    cfg = make_cfg(*overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None), \
            pytest.raises(UserError, match=r"^arch.period must lie between 1 and data.input_steps \(10\)"):
        sweep(cfg, overrides)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.csv"]


# --- data ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_password_in_a_data_path_is_hidden_in_the_runs_dataset(tmp_path, store):
    """The `data.path` param was hidden but the dataset's source (MLflow's Datasets) was not."""
    from src.train import train

    folder = tmp_path / "http:" / "a:S3cretPW@x"
    folder.mkdir(parents=True)
    path = write_csv(folder / "load.csv")
    metrics = train(csv_cfg(path, "arch=naive", "tracking.log_model=false", *store))
    run = MlflowClient(tracking_uri=store[0].split("=", 1)[1]).get_run(metrics["run_id"])
    [source] = [d.dataset.source for d in run.inputs.dataset_inputs]
    assert "S3cretPW" not in source and "a:***@x" in source
    assert "S3cretPW" not in run.data.params["data.path"]


def csv_cfg(path, *overrides):
    return make_cfg("data=csv", f"data.path={path}", "data.input_steps=20", "data.horizon=5", *overrides)


def test_series_whose_metric_names_clash_are_refused(tmp_path):
    """`a/b` and `a_b` both became the metric key `a_b`: one series' errors silently
    overwrote the other's (and the error-by-series figure was wrong)."""
    path = tmp_path / "clash.csv"
    pd.DataFrame({"a/b": np.arange(100.0), "a_b": np.arange(100.0) * 2}).to_csv(path, index=False)
    with pytest.raises(UserError, match="columns a/b, a_b in .* would share the MLflow metric name 'a_b'"):
        prepare(csv_cfg(path).data)


def test_a_series_name_too_long_for_mlflow_is_refused_before_training(tmp_path):
    """Before, the run trained and then died with MLflow's traceback ('Metric name' exceeds
    250 characters), left FAILED."""
    path = tmp_path / "long.csv"
    pd.DataFrame({"x" * 260: np.arange(200.0), "s1": np.arange(200.0) * 2}).to_csv(path, index=False)
    with pytest.raises(UserError, match="column 'x{40}...' in .* has a name of 260 characters; its MLflow "
                                        r"metric names \(test_mse/<name>\) allow 241: shorten it"):
        prepare(csv_cfg(path).data)
    pd.DataFrame({"x" * 241: np.arange(200.0)}).to_csv(path, index=False)
    assert prepare(csv_cfg(path).data).series == ["x" * 241]


def test_a_folder_as_csv_path_is_named(tmp_path):
    with pytest.raises(UserError, match="is a folder, not a CSV file"):
        prepare(csv_cfg(tmp_path).data)


def test_duplicate_header_names_are_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("load,load,price\n" + "".join(f"{i},{i + 1},{i * 2}\n" for i in range(200)))
    with pytest.raises(UserError, match="names load more than once"):
        prepare(csv_cfg(path).data)


def test_a_boolean_column_is_refused_and_skipped(tmp_path, caplog):
    frame = pd.read_csv(write_csv(tmp_path / "a.csv", rows=300))
    frame["holiday"] = np.arange(300) % 7 == 0
    frame.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(UserError, match="column 'holiday' .* holds true/false values"):
        prepare(csv_cfg(tmp_path / "a.csv", "data.columns=[load,holiday]").data)
    caplog.set_level("INFO")
    data = prepare(csv_cfg(tmp_path / "a.csv").data)
    assert data.series == ["load", "price", "temp"]
    assert "skipped (not numeric): date, holiday" in caplog.text


def test_a_constant_series_is_refused_by_name(tmp_path):
    frame = pd.read_csv(write_csv(tmp_path / "a.csv", rows=300))
    frame["flat"] = 3.0
    frame.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(UserError, match="series 'flat' is constant over the 210 training rows"):
        prepare(csv_cfg(tmp_path / "a.csv").data)


def test_huge_values_are_scored_in_float64(tmp_path):
    frame = pd.read_csv(write_csv(tmp_path / "a.csv", rows=300))
    frame[["load", "price", "temp"]] *= 1e28  # squares overflow float32 (max 3.4e38)
    frame.to_csv(tmp_path / "a.csv", index=False)
    data = prepare(csv_cfg(tmp_path / "a.csv").data)
    naive = naive_forecast(data.test)
    metrics = evaluate(data, naive_forecast(data.val), naive * 1.01)
    expected = np.mean((naive - data.test.y) ** 2, dtype=np.float64)
    assert np.isfinite(metrics["naive_test_mse"]) and metrics["naive_test_mse"] < 1e300
    np.testing.assert_allclose(metrics["naive_test_mse"], expected, rtol=1e-9)
    assert 0.5 < metrics["test_mse_ratio_to_naive"] < 2


def test_values_too_small_to_scale_are_refused_for_what_they_are(tmp_path):
    """1e-170 times a varying series: its squared deviations underflowed, and it was refused
    as 'constant' though it varies by a third."""
    frame = pd.read_csv(write_csv(tmp_path / "a.csv", rows=300))
    frame["price"] = (frame["price"] + 100) * 1e-170
    frame.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(UserError, match="series 'price' holds values no larger than .*e-168; within "
                                        "±1e-100 squared errors underflow to 0: rescale it first"):
        prepare(csv_cfg(tmp_path / "a.csv").data)


def test_values_too_large_to_score_are_refused(tmp_path):
    frame = pd.read_csv(write_csv(tmp_path / "a.csv", rows=300))
    frame.loc[5, "price"] = 1e120
    frame.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(UserError, match="series 'price' holds values up to 1e\\+120"):
        prepare(csv_cfg(tmp_path / "a.csv").data)


# --- configs read back from a store -------------------------------------------------

def stored(cfg) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


def test_stored_config_round_trips():
    cfg = make_cfg("arch=seq2seq", "train.epochs=3")
    loaded = load_stored(stored(cfg), "run abc")
    assert OmegaConf.to_container(loaded) == OmegaConf.to_container(cfg, resolve=True)


def test_a_config_stored_before_a_key_existed_takes_todays_default():
    cfg = make_cfg("arch=linear", "compare.folds=2", "search.stackings=[samples]")
    text = stored(cfg)
    for line in ("  folds: 2\n", "  - samples\n", "  alphas:\n"):
        assert line in text
    old = text.replace("  folds: 2\n", "").replace("  stackings:\n  - samples\n", "")
    old = re.sub(r"  alphas:\n(  - .*\n)+", "", old)
    loaded = load_stored(old, "run abc")
    today = make_cfg("arch=linear")
    assert loaded.compare.folds == today.compare.folds
    assert list(loaded.search.stackings) == [loaded.data.stacking]
    assert list(loaded.arch.alphas) == list(today.arch.alphas)


def test_a_stored_sampler_and_space_are_taken_whole_not_mixed_with_todays():
    cfg = make_cfg("search/space=none", "search.sampler._target_=optuna.samplers.RandomSampler",
                   "~search.sampler.n_startup_trials")
    loaded = load_stored(stored(cfg), "run abc")
    assert loaded.search.space == {} and "n_startup_trials" not in loaded.search.sampler


@pytest.mark.parametrize("edit, message", [
    (("src.data.sources.synthetic", "shutil.copyfile"),
     "run abc: data.source._target_: 'shutil.copyfile' is not allowed"),
    # Allowed names that lead out of the allowed packages through a module's imports
    # (pandas' unpickler ran a stored file's code before this).
    (("src.data.sources.synthetic", "src.data.sources.pd.read_pickle"),
     "run abc: data.source._target_: 'src.data.sources.pd.read_pickle' is not allowed"),
    (("src.data.sources.synthetic", "src.data.sources.np.load"),
     "run abc: data.source._target_: 'src.data.sources.np.load' is not allowed"),
    (("seed: 42", "seed: ${oc.env:HOME}"), r"run abc: seed holds an interpolation"),
    (("epochs: 30", "epochs: many"), "run abc: train.epochs: Value 'many'"),
    (("seed: 42", "seed: 42\nhook: 1"), "run abc: hook: Key 'hook' not in"),
])
def test_stored_config_is_data_not_code(edit, message):
    text = stored(make_cfg()).replace(*edit)
    with pytest.raises(UserError, match=message):
        load_stored(text, "run abc")


def test_build_refuses_targets_outside_the_allow_list(tmp_path):
    node = OmegaConf.create({"_target_": "shutil.copyfile", "src": __file__, "dst": str(tmp_path / "x")})
    with pytest.raises(UserError, match="'shutil.copyfile' is not allowed"):
        build(node)
    nested = OmegaConf.create({"_target_": "src.data.sources.read_csv",
                               "path": {"_target_": "os.getcwd"}})
    with pytest.raises(UserError, match="path._target_: 'os.getcwd' is not allowed"):
        build(nested)
    through = OmegaConf.create({"_target_": "src.models.recurrent.keras.utils.get_file", "origin": "x"})
    with pytest.raises(UserError, match="'src.models.recurrent.keras.utils.get_file' is not allowed"):
        build(through)
    assert not (tmp_path / "x").exists()


# --- the Optuna journal -------------------------------------------------------------

def journal_with_two_studies(tmp_path):
    search = make_cfg(f"search.journal={tmp_path}/journal.log").search
    storage = studies.open_storage(search)
    for name in ("a", "b"):
        study = optuna.create_study(study_name=name, storage=storage)
        for x in (1.0, 2.0):
            study.add_trial(optuna.trial.create_trial(params={"x": x}, value=x,
                                                      distributions={"x": optuna.distributions.FloatDistribution(0, 5)}))
    return search, tmp_path / "journal.log"


def test_a_torn_last_journal_record_is_dropped_with_a_warning(tmp_path, caplog):
    search, path = journal_with_two_studies(tmp_path)
    content = path.read_bytes()
    last = content.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(content[: last + (len(content) - last) // 2])  # cut the last line in half
    storage = studies.open_storage(search)
    assert "dropped a partial last record" in caplog.text and str(path) in caplog.text
    assert path.read_bytes() == content[:last]
    for name in ("a", "b"):
        assert len(optuna.load_study(study_name=name, storage=storage).trials) >= 1
    study = optuna.load_study(study_name="b", storage=storage)
    study.add_trial(optuna.trial.create_trial(params={"x": 3.0}, value=3.0,
                                              distributions={"x": optuna.distributions.FloatDistribution(0, 5)}))
    reopened = optuna.load_study(study_name="b", storage=studies.open_storage(search))
    assert [t.value for t in reopened.trials][-1] == 3.0


def test_a_corrupt_journal_record_in_the_middle_is_named(tmp_path):
    search, path = journal_with_two_studies(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"op_code": 4, "worker_id": broken\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(UserError, match=f"{path}: line 3 is not a journal record"):
        studies.open_storage(search)
    assert path.read_bytes() == b"".join(lines)  # the file is left as it was


@pytest.mark.slow
def test_an_unexpected_error_prints_its_traceback_without_the_password(tmp_path):
    """Hydra's own report of an exception starts with the command line's overrides, a
    database password included; the CLI prints the redacted traceback instead."""
    code = ("import sys\nfrom src.cli import run_app\n"
            "def task(cfg):\n    raise RuntimeError('lost ' + cfg.search.storage)\n"
            "run_app(task, 'config')\n")
    script = tmp_path / "app.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script), "search.storage=postgresql://u:s3cret@127.0.0.1/db"],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1
    assert "RuntimeError: lost postgresql://u:***@127.0.0.1/db" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


# --- names and folders of the later commands ---------------------------------------------

@pytest.mark.parametrize("name", ["a b/c", "../x", "x:y", ".hidden"])
def test_a_search_name_that_cannot_name_a_folder_and_a_model_is_refused(name):
    """Before, `a b/c` swept, then crashed `make compare` after its repeats (a registered
    model's name cannot hold '/'), and `../x` put the report outside compare.report_dir."""
    with pytest.raises(UserError, match="search.name must be letters, digits"):
        validate(make_cfg(f"search.name='{name}'"))
    validate(make_cfg("search.name='my sweep-2.1'"))


def test_a_search_name_too_long_and_threads_beyond_the_cores_are_refused_up_front(tmp_path):
    """A 300-character name swept, then `make compare` died with 'File name too long' (a
    traceback, as does any compare.report_dir too long); 1e8 threads per worker ran the
    machine out of memory."""
    import os

    with pytest.raises(UserError, match="search.name has 300 characters; at most 100"):
        validate(make_cfg(f"search.name={'a' * 300}"))
    validate(make_cfg(f"search.name={'a' * 100}"))
    with pytest.raises(UserError, match="search.threads_per_worker must be at most the .* CPU cores here, got 100000000"):
        validate(make_cfg("search.threads_per_worker=100000000"))
    validate(make_cfg(f"search.threads_per_worker={os.cpu_count()}"))
    with pytest.raises(UserError, match="compare.report_dir: cannot use .*: File name too long"):
        services.check_folder(tmp_path / ("r" * 300) / "x", "compare.report_dir")


@pytest.mark.parametrize("override, message", [
    ("compare.report_dir=/proc/nope", "compare.report_dir: cannot create the folder /proc/nope"),
    ("tracking.experiment=team/a", "a registered model's name cannot hold '/'"),
])
def test_compare_refuses_what_would_fail_after_its_repeats(tmp_path, override, message):
    """Before, both failed with a traceback once the repeats had trained and logged runs."""
    from src.compare import compare

    cfg = make_cfg(f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", f"compare.report_dir={tmp_path}/reports",
                   override)
    with pytest.raises(UserError, match=message):
        compare(cfg)
    assert not list(tmp_path.iterdir())


def forecast_cfg(tmp_path, *overrides):
    return make_cfg(f"tracking.uri=sqlite:///{tmp_path}/store/mlflow.db", f"out_dir={tmp_path}/out",
                    *overrides, config_name="forecast")


@pytest.mark.parametrize("where, message", [
    ("file", "out_dir: .* is a file, not a folder"),
    ("/proc/nope", "out_dir: cannot create the folder /proc/nope"),
    ("no store", "no MLflow store at sqlite:///.*/store/mlflow.db: run `make sweep` and `make compare` first"),
])
def test_forecast_refuses_a_bad_out_dir_or_a_missing_store_writing_nothing(tmp_path, where, message):
    """Before: a traceback for the first two, and an empty store created for the third."""
    from src.forecast import forecast

    (tmp_path / "file").write_text("")
    csv = write_csv(tmp_path / "series.csv")
    out = {"file": f"out_dir={tmp_path}/file", "/proc/nope": "out_dir=/proc/nope"}.get(where)
    with pytest.raises(UserError, match=message):
        forecast(forecast_cfg(tmp_path, f"data.path={csv}", *([out] if out else [])))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "series.csv"]


def test_forecast_refuses_true_false_columns_as_training_does(tmp_path):
    from types import SimpleNamespace

    from src.forecast import series_of

    history = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [True, False, True]})
    with pytest.raises(UserError, match="column 'b' holds true/false values, not numbers"):
        series_of(history, SimpleNamespace(series=["a", "b"]))


@pytest.mark.parametrize("index, expected", [
    # monthly on the 15th: no pandas frequency, and the median gap (31 days) drifted
    (pd.DatetimeIndex(pd.date_range("2025-03-01", periods=12, freq="MS") + pd.Timedelta(days=14), name="date"),
     pd.DatetimeIndex(["2026-03-15", "2026-04-15"], name="date")),
    # repeated dates (a date of days over hourly rows): every forecast row had the last date
    (pd.DatetimeIndex(["2024-01-09"] * 5, name="date"), pd.RangeIndex(1, 3, name="step")),
    # each day twice but the first: the median gap was 12 hours (or a day), labels made up
    (pd.DatetimeIndex(["2024-01-01", *sorted(list(pd.date_range("2024-01-02", periods=10, freq="D")) * 2)], name="date"),
     pd.RangeIndex(1, 3, name="step")),
    (pd.DatetimeIndex([*sorted(list(pd.date_range("2024-01-01", periods=10, freq="D")) * 2), "2024-01-11"], name="date"),
     pd.RangeIndex(1, 3, name="step")),
    # years: were nanoseconds after 1970
    (pd.Index([2097, 2098, 2099], name="date"), pd.Index([2100, 2101], name="date")),
])
def test_forecast_dates_continue_the_history(index, expected):
    from src.forecast import next_index

    pd.testing.assert_index_equal(next_index(pd.DataFrame({"a": range(len(index))}, index=index), 2),
                                  expected, exact=False)


def test_a_backtest_names_a_non_numeric_value_in_any_window():
    """Before, windows=all cast the whole file to float: a traceback."""
    from types import SimpleNamespace

    from src.forecast import backtest
    from src.serving.forecaster import ForecastInputError

    history = pd.DataFrame({"a": [1.0] * 10 + ["abc"] + [1.0] * 10})
    with pytest.raises(ForecastInputError, match="column 'a' row 10 holds 'abc', not a finite number"):
        backtest(SimpleNamespace(input_steps=3, horizon=2), history)
    history = pd.DataFrame({"a": [1.0] * 10 + [np.nan] + [1.0] * 10})  # said np.float64(nan)
    with pytest.raises(ForecastInputError, match="column 'a' row 10 holds nan, not a finite number"):
        backtest(SimpleNamespace(input_steps=3, horizon=2), history)


def test_the_forecast_refuses_text_anywhere_in_its_series_as_training_does():
    """Text before the last input_steps rows passed: exit 0, and the figure drew the series
    as text labels with the forecast off its scale."""
    from types import SimpleNamespace

    from src.forecast import series_of

    model = SimpleNamespace(series=["a", "b"])
    history = pd.DataFrame({"a": [1.0] * 3 + ["abc"] + [1.0] * 40, "b": [2.0] * 44, "time": ["x"] * 44})
    with pytest.raises(UserError, match="data.path: column 'a' row 3 holds 'abc', not a number"):
        series_of(history, model)
    history.loc[3, "a"] = np.nan  # a gap is drawn as one; the window itself is checked later
    assert list(series_of(history, model).columns) == ["a", "b"]


def test_a_backtest_refuses_values_whose_squared_errors_overflow():
    """Before: three numpy overflow warnings and a table of MSE inf (training refused them)."""
    from types import SimpleNamespace

    from src.forecast import backtest
    from src.serving.forecaster import ForecastInputError

    history = pd.DataFrame({"a": [1.0] * 10 + [1e300] + [1.0] * 10})
    with pytest.raises(ForecastInputError, match=r"column 'a' holds values up to 1e\+300; beyond ±1e\+100"):
        backtest(SimpleNamespace(input_steps=3, horizon=2), history)


@pytest.mark.parametrize("text, message", [
    ("a,b\n", r"has a header \(a, b\) but no rows"),  # said "no numeric column"
    ("date;s0;s1\n2024-01-01;1;2\n", "separate its values with something other than commas"),
])
def test_a_header_without_rows_or_another_separator_is_named(tmp_path, text, message):
    from src.data.sources import read_csv

    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        read_csv(str(path))


def test_series_names_with_spaces_around_them_are_named():
    """`date, s0, s1` as a header: 'missing s0, s1 (columns:  s0,  s1)', nothing more."""
    from types import SimpleNamespace

    from src.forecast import series_of

    history = pd.DataFrame({" s0": [1.0], " s1": [2.0]})
    with pytest.raises(UserError, match=r"its names carry spaces \(' s0', ' s1'\)"):
        series_of(history, SimpleNamespace(series=["s0", "s1"]))


def test_a_history_far_outside_the_training_range_is_refused_not_forecast_as_inf():
    """Scaled, 1e39 is beyond float32: the forecast was inf or NaN, written and served."""
    import keras

    from src.data.scaling import Scaler
    from src.serving.forecaster import ForecastInputError, Forecaster

    inputs = keras.Input((3, 1))
    network = keras.Model(inputs, keras.layers.Reshape((2, 1))(keras.layers.Dense(2)(keras.layers.Flatten()(inputs))))
    forecaster = Forecaster(network=network, scaler=Scaler(mode="window", mean=np.zeros(1), std=np.ones(1)),
                            stacking="channels", series=["a"], input_steps=3, horizon=2)
    assert np.isfinite(forecaster.forecast_frame(pd.DataFrame({"a": [1.0, 2.0, 3.0]})).to_numpy()).all()
    with pytest.raises(ForecastInputError, match="values lie too far outside those the model was trained on"):
        forecaster.forecast_frame(pd.DataFrame({"a": [1.0, 1e39, 3.0]}))
    # Within float32 but 1e30 training standard deviations away: it forecast absurd numbers.
    with pytest.raises(ForecastInputError, match=r"scaled, beyond 1e\+06 of its training standard deviations"):
        forecaster.forecast_frame(pd.DataFrame({"a": [1.0, 1e30, 3.0]}))
    assert np.isfinite(forecaster.forecast_frame(pd.DataFrame({"a": [1.0, 1e5, 3.0]})).to_numpy()).all()


def test_a_history_beyond_float32_once_scaled_is_refused_though_the_network_saturates():
    """An LSTM's tanh turns an infinite input into a finite output: 1e45 in the window was
    forecast as if it were not there (or as 1e45 for every step), exit 0, no word."""
    import keras

    from src.data.scaling import Scaler
    from src.serving.forecaster import ForecastInputError, Forecaster

    inputs = keras.Input((3, 1))
    saturating = keras.layers.Dense(2, activation="tanh", kernel_initializer="ones")(keras.layers.Flatten()(inputs))
    forecaster = Forecaster(network=keras.Model(inputs, keras.layers.Reshape((2, 1))(saturating)),
                            scaler=Scaler(mode="global", mean=np.zeros(1), std=np.ones(1)),
                            stacking="channels", series=["a"], input_steps=3, horizon=2)
    assert np.isfinite(forecaster.forecast(np.array([[[1.0], [1e45], [3.0]]]))).all()  # unchecked
    with pytest.raises(ForecastInputError, match="values lie too far outside those the model was trained on"):
        forecaster.forecast_frame(pd.DataFrame({"a": [1.0, 1e45, 3.0]}))


def test_the_forecast_cli_refuses_a_repeated_header_as_training_does(tmp_path):
    from omegaconf import OmegaConf

    from src.forecast import read_history

    path = tmp_path / "twice.csv"
    path.write_text("date,s0,s1,s0\n2024-01-01,1,2,100\n2024-01-02,2,3,200\n")
    with pytest.raises(UserError, match="names s0 more than once"):
        read_history(OmegaConf.create({"path": str(path), "time_column": None}))


def test_a_model_uri_this_machine_cannot_read_is_one_line(tmp_path):
    """s3:// without MLflow's S3 client installed was a traceback (ModuleNotFoundError)."""
    import importlib.util

    from src.forecast import load

    if importlib.util.find_spec("botocore") is not None:
        pytest.skip("botocore is installed here: s3:// would be read")
    with pytest.raises(UserError, match="model s3://bucket/x: cannot read it here"):
        load("s3://bucket/x", tmp_path)


def test_a_word_for_a_model_uri_is_named_as_not_a_uri(tmp_path):
    """Before: "The following failures occurred while downloading one or more artifacts from :"."""
    from src.forecast import load

    with pytest.raises(UserError, match="model garbage: not a model URI; use models:/<name>@<alias>"):
        load("garbage", tmp_path)


@pytest.mark.slow
def test_ctrl_c_is_one_line_and_exit_130_not_a_traceback(tmp_path, store):
    """Before, Ctrl+C in src.train (or in compare's repeats) ended with Python's traceback.
    The run has more epochs than any wait here: with 1000, once in a full suite on two busy
    cores, the process trained all of them and exited 0: the Ctrl+C had been swallowed by a
    finalizer (see test_ctrl_c_lost_in_a_finalizer_still_stops_the_run)."""
    proc = subprocess.Popen([sys.executable, "-m", "src.train", *store, "arch.units=[4]", "data.n_windows=200",
                             "train.epochs=100000", "train.patience=100000", "train.jit_compile=false",
                             "train.verbose=0", "tracking.log_model=false"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    client = MlflowClient(tracking_uri=store[0].split("=", 1)[1])
    deadline = time.time() + 120
    while time.time() < deadline and not client.search_runs([e.experiment_id for e in client.search_experiments()]):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted:")
    [run] = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.status == "KILLED"


SECRET_URL = "postgresql://bob:S3cretPW@127.0.0.1:9/db"


@pytest.mark.parametrize("args, message", [
    # Tracebacks, exit 1 (the first after creating the MLflow store).
    (["run_name=${nope}"], "error: run_name: Interpolation key 'nope' not found"),
    (["seed=${oc.env:MANY2MANY_UNSET}"], "error: seed: KeyError raised while resolving interpolation"),
    (["--cfg", "job", "--resolve", "run_name=${nope}"], "error: run_name: Interpolation key 'nope' not found"),
    (["--help", "--resolve", "run_name=${nope}"], "error: run_name: Interpolation key 'nope' not found"),
    (["arch=null"], "error: arch cannot be null; choose one of"),
    # A sweep's studies composed conf/'s own config: they trained on other data and settings.
    (["--config-dir", "/tmp", "arch=linear"], "error: --config-name, --config-dir and --config-path are not supported"),
    (["--config-name", "mine"], "error: --config-name, --config-dir and --config-path are not supported"),
    # The stores and the data path moved into Hydra's run folder.
    (["hydra.job.chdir=true"], "error: hydra.job.chdir=true is not supported"),
    # Each job of a --multirun is composed first: Hydra's several-line report, exit 1.
    (["-m", "train.epochs=2,abc"], "error: train.epochs: expected an integer, got 'abc'"),
    (["-m", "arch=reshape_head,nope"], "error: unknown arch 'nope'; available:"),
    (["-m", "train.epochs=[1"], "error: cannot parse override 'train.epochs=[1'"),
    # Hydra logged each job's overrides and saved them in multirun/.../multirun.yaml.
    (["-m", "arch=linear,naive", f"search.storage={SECRET_URL}"],
     "error: a password in a URL cannot be given with --multirun"),
    # The same, reached another way: Hydra's own switch, or a value the command line does
    # not show (an environment variable, or a preset file); hydra.verbose logs the config.
    (["hydra.mode=MULTIRUN", "arch=linear", f"search.storage={SECRET_URL}"],
     "error: a password in a URL cannot be given with --multirun"),
    (["-m", "arch=linear,naive", "search.storage=${oc.env:MANY2MANY_SECRET_URL}"],
     "error: a password in a URL cannot be given with --multirun"),
    (["hydra.verbose=true", f"search.storage={SECRET_URL}"],
     "error: a password in a URL cannot be given with hydra.verbose"),
    # The intended line was unreachable: resolving data.source.path failed first.
    (["data=csv"], "error: data.path must be set (the CSV file for data=csv): add data.path=..."),
    (["experiment=my_csv"], "error: data.path must be set (the CSV file for data=csv): add data.path=..."),
])
def test_what_hydra_would_mishandle_is_one_line_before_it_starts(capsys, monkeypatch, args, message):
    monkeypatch.setenv("MANY2MANY_SECRET_URL", SECRET_URL)
    with pytest.raises(SystemExit) as stop:
        answer_before_hydra("config", args)
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing half printed (`--help` printed its groups before failing)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message) and "S3cretPW" not in lines[0], lines


def test_multirun_with_a_password_writes_and_prints_nothing(tmp_path):
    result = run_cli("src.train", "-m", "arch=linear,naive", f"search.storage={SECRET_URL}", cwd=tmp_path)
    assert result.returncode == 2 and "S3cretPW" not in result.stdout + result.stderr
    assert not list(tmp_path.iterdir())  # no multirun/ with the overrides, no mlruns/


@pytest.mark.parametrize("flag", ["--help", "--cfg"])
def test_the_printed_config_hides_passwords(capsys, flag):
    args = ["tracking.uri=http://alice:S3cretPW@127.0.0.1:9", f"search.storage={SECRET_URL}",
            *([flag, "job"] if flag == "--cfg" else [flag])]
    assert answer_before_hydra("config", args)
    printed = capsys.readouterr().out
    assert "S3cretPW" not in printed
    assert "uri: http://alice:***@127.0.0.1:9" in printed
    assert "storage: postgresql://bob:***@127.0.0.1:9/db" in printed


@pytest.mark.slow
@pytest.mark.parametrize("flags", [["--cfg", "all"], ["--info"]])  # all: hydra's and the job's; --info: all
def test_what_hydra_prints_itself_hides_passwords(tmp_path, flags):
    """Before, `--cfg hydra|all` printed the overrides as given and `--info` the config: the
    password included."""
    result = run_cli("src.train", f"tracking.uri={SECRET_URL}", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "S3cretPW" not in result.stdout + result.stderr
    assert "postgresql://bob:***@127.0.0.1:9/db" in result.stdout  # still printed, hidden
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("target", ["search.sampler._target_=optuna.samplers.Nope",
                                    "search.pruner._target_=optuna.pruners.Nope"])
def test_an_unknown_sampler_or_pruner_is_one_whole_line(tmp_path, target):
    """Hydra logged a three-line error of its own to stdout, and the line kept was cut at
    its first line ("Error loading 'optuna.samplers.Nope':")."""
    result = run_cli("src.sweep", target, *store_overrides(tmp_path), f"search.journal={tmp_path}/j.log")
    name = target.split("=")[1]
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert result.stderr.strip().splitlines() == [
        f"error: {target.split('._target_')[0]}: cannot build {name}: _target_: no class or function '{name}'"]
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_sampler_whose_package_is_missing_is_refused_before_the_sweep(tmp_path):
    """CmaEsSampler imports cmaes at its first non-random suggestion: the sweep ran one random
    trial, failed the next five with ModuleNotFoundError and exited 0 one trial short of 3."""
    import importlib.util

    if importlib.util.find_spec("cmaes") is not None:
        pytest.skip("cmaes is installed here: CmaEsSampler would run")
    result = run_cli("src.sweep", "search.sampler._target_=optuna.samplers.CmaEsSampler",
                     "~search.sampler.n_startup_trials", *store_overrides(tmp_path), f"search.journal={tmp_path}/j.log")
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert result.stderr.strip().splitlines() == [
        "error: search.sampler: CmaEsSampler needs cmaes, not installed here: pip install cmaes"]
    assert not list(tmp_path.iterdir())


def test_a_runs_uri_of_a_run_without_a_model_says_so(tmp_path, store):
    """A statistical baseline's run (theta) logs no model: the hint said to name the model
    by its approach, which `runs:/<id>/theta` already did."""
    from mlflow.tracking import MlflowClient

    from src.forecast import load
    from src.tracking import point_mlflow_at

    uri = point_mlflow_at(f"sqlite:///{tmp_path}/mlflow.db")  # as src.forecast does before it loads
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("test", artifact_location=str(tmp_path / "art")),
                            tags={"arch": "theta"})
    client.set_terminated(run.info.run_id)
    with pytest.raises(UserError, match=rf"run {run.info.run_id} \(theta\) logged no MLflow model: the "
                                        r"statistical baselines \(ets, theta, arima\) log none"):
        load(f"runs:/{run.info.run_id}/theta", tmp_path / "dl")


def test_a_runs_uri_of_a_study_run_names_its_selected_trials_model(tmp_path, store):
    """A study's own run logs no model; the hint blamed statistical baselines, log_model=false
    or a failure, none of which applied."""
    from mlflow.tracking import MlflowClient

    from src.forecast import load
    from src.tracking import point_mlflow_at

    uri = point_mlflow_at(f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient(uri)
    experiment = client.create_experiment("test", artifact_location=str(tmp_path / "art"))
    study = client.create_run(experiment, tags={"role": "study", "study": "sweep-linear", "arch": "linear",
                                                "approach": "linear", "best_run_id": "abc123"})
    client.set_terminated(study.info.run_id)
    with pytest.raises(UserError, match=rf"run {study.info.run_id} is study sweep-linear's run, which logs no "
                                        r"model: its selected trial's is runs:/abc123/linear$"):
        load(f"runs:/{study.info.run_id}/linear", tmp_path / "dl")


def test_make_serves_check_takes_one_model_uri(capsys):
    from src.serving import check

    with pytest.raises(SystemExit) as exit_info:
        check.main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: usage: python -m src.serving.check <model URI>\n"


def test_make_uis_link_says_when_there_is_nothing_to_show(tmp_path, store):
    from mlflow.tracking import MlflowClient

    from src.ui_link import runs_url

    assert runs_url("5000", f"sqlite:///{tmp_path}/none.db", "test") == \
        "http://127.0.0.1:5000 (no runs yet: make sweep first)"
    uri = f"sqlite:///{tmp_path}/mlflow.db"  # the store fixture's, empty
    assert runs_url("5000", uri, "test") == "http://127.0.0.1:5000 (no experiment 'test' yet)"
    experiment = MlflowClient(tracking_uri=uri).create_experiment("test", artifact_location=str(tmp_path / "a"))
    assert runs_url("5000", uri, "test") == \
        f"http://127.0.0.1:5000/#/experiments/{experiment}/runs?workflowType=machine_learning"
    assert not (tmp_path / "none.db").exists()


def test_a_champion_not_found_names_the_keys_that_name_it(tmp_path, store):
    """After `experiment=my_csv` the champion is my_csv-my_csv; src.forecast, which has no
    presets, looked for many2many-sweep and said only to run `make compare`."""
    from src.forecast import load
    from src.tracking import point_mlflow_at

    point_mlflow_at(f"sqlite:///{tmp_path}/mlflow.db")
    with pytest.raises(UserError, match=r"run `make compare` to register one, or name the sweep whose .* "
                                        r"give tracking.experiment=my_csv search.name=my_csv"):
        load("models:/many2many-sweep@champion", tmp_path / "dl")


def test_an_unquoted_value_with_a_space_or_a_symbol_says_to_quote_it(capsys):
    with pytest.raises(SystemExit):
        precompose("config", ["data=csv", "data.columns=[revenue €,flat]"])
    assert one_error_line(capsys).endswith("""quote values holding spaces or such characters: "data.columns=['revenue €',flat]\"""")


def test_a_key_added_since_a_study_was_grown_leaves_its_settings_as_stored():
    """data.time_column (null) joined the CSV settings later: a study grown before would have
    been refused as 'grown with data.time_column=None' and its baselines trained again."""
    from src.tuning.resume import settings

    before = settings(make_cfg("data=csv", "data.path=x.csv"))
    assert not {"data.time_column", "data.source.time_column"} & set(before)
    assert settings(make_cfg("data=csv", "data.path=x.csv", "data.time_column=month"))["data.time_column"] == "month"
