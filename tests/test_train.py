"""`train(cfg)` end to end into a temporary MLflow store: what a run holds, how it ends,
and that bad input leaves nothing behind."""

import keras
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import CONF_DIR, TINY, make_cfg, run_cli, write_csv
from src.config import UserError
from src.data.model_inputs import prepare
from src.evaluation import predict
from src.serving.logged import load_forecaster
from src.train import train
from src.keras_fit import TrainingDiverged
from src.versions import versions


def client_for(tmp_path):
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")


def only_run(tmp_path):
    client = client_for(tmp_path)
    experiment = client.get_experiment_by_name("test")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


@pytest.mark.slow
def test_one_epoch_run_holds_everything(tmp_path, store):
    cfg = make_cfg("arch=timedistributed", "arch.units=[4,3]", *TINY, *store)
    metrics = train(cfg)
    client, run = only_run(tmp_path)
    assert run.info.status == "FINISHED" and run.info.run_id == metrics["run_id"]
    assert run.data.tags["arch"] == "timedistributed"
    assert run.data.tags["stacking"] == "channels" and run.data.tags["scaling"] == "window"
    assert len(run.data.tags["split_fingerprint"]) == 16
    tagged = {k: v for k, v in run.data.tags.items() if k.startswith("versions.")}
    assert tagged == {f"versions.{k}": v for k, v in versions().items()}
    assert tagged["versions.keras"] == keras.__version__

    params = run.data.params
    assert params["arch.units"] == "[4, 3]" and params["train.epochs"] == "1"
    assert not any(k.startswith("data.source.") for k in params)  # they repeat data.*
    assert (params["depth"], params["width"], params["batch_size"]) == ("2", "4", "32")
    assert float(params["learning_rate"]) == 0.001
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "synthetic"
    assert dataset.dataset.digest == run.data.tags["split_fingerprint"]
    assert params["seed"] == "42" and params["data.input_steps"] == "40"

    m = run.data.metrics
    assert m["n_params"] == 4 * (4 * 6) + 4 * (3 * 8) + 3 * 10 + 10  # LSTM(4), LSTM(3), Dense(10)
    for key in ["test_mse", "test_mae", "test_mse/s0",
                "test_mae/s1", "naive_test_mse", "test_mse_ratio_to_naive", "val_mse",
                "seconds_per_epoch", "predict_seconds_per_window"]:
        assert np.isfinite(m[key]), key
    assert m["test_mse_ratio_to_naive"] == pytest.approx(m["test_mse"] / m["naive_test_mse"])
    assert not any("/step_" in key for key in m)
    for key in ("test_mse_by_step", "test_mae_by_step"):
        by_step = client.get_metric_history(run.info.run_id, key)
        assert sorted(point.step for point in by_step) == list(range(1, 11)), key
    by_step = client.get_metric_history(run.info.run_id, "test_mse_by_step")
    assert m["test_mse"] == pytest.approx(np.mean([point.value for point in by_step]))
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [h.step for h in history] == [1]
    assert history[0].value == pytest.approx(m["best_val_loss"])

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "model_summary.txt", "forecast.png"} <= artifacts
    stored = tmp_path / "artifacts" / "test" / run.info.run_id / "artifacts"  # beside the store
    assert (stored / "forecast.png").is_file()
    folder = client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl"))
    assert "encoder_0" in open(f"{folder}/model_summary.txt").read()
    assert open(f"{folder}/forecast.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    # The run's MLflow model (a LoggedModel of this run) reproduces the logged test MSE;
    # its network reloads in safe mode.
    [logged] = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert logged.source_run_id == run.info.run_id and run.data.tags["model_uri"] == f"models:/{logged.model_id}"
    forecaster = load_forecaster(run.data.tags["model_uri"], tmp_path / "model")
    network = keras.models.load_model(tmp_path / "model" / "artifacts" / "forecaster" / "network.keras",
                                      safe_mode=True)
    data = prepare(cfg.data)
    forecast = predict(network, data, data.test)
    np.testing.assert_allclose(forecaster.forecast(data.test.X), forecast, rtol=1e-6)
    assert float(np.mean((forecast - data.test.y) ** 2)) == pytest.approx(m["test_mse"], rel=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(p.stem for p in (CONF_DIR / "arch").glob("*.yaml")))
def test_every_arch_runs_through_the_same_routine(tmp_path, store, arch):
    overrides = [f"arch={arch}", *TINY, *store, "train.jit_compile=false"]
    arch_cfg = make_cfg(f"arch={arch}").arch
    if "units" in arch_cfg:
        overrides.append("arch.units=[3]")
    if "period" in arch_cfg:
        overrides.append("arch.period=12")
    metrics = train(make_cfg(*overrides))
    _, run = only_run(tmp_path)
    assert run.info.status == "FINISHED" and run.data.tags["arch"] == arch
    if arch == "naive":
        assert metrics["epochs_trained"] == 0 and metrics["n_params"] == 0
        assert metrics["test_mse_ratio_to_naive"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_csv_preset_and_samples_stacking(tmp_path, store):
    path = write_csv(tmp_path / "series.csv", rows=400)
    cfg = make_cfg("experiment=my_csv", f"data.path={path}", "data.columns=[load,temp]",
                   "data.input_steps=24", "data.horizon=6", "data.stacking=samples",
                   "arch=reshape_head", "arch.units=[4]", *TINY[1:], *store)
    metrics = train(cfg)
    client, run = only_run(tmp_path)
    assert run.data.tags["stacking"] == "samples"
    assert {"test_mse/load", "test_mse/temp"} <= set(run.data.metrics)
    assert len(client.get_metric_history(run.info.run_id, "test_mse_by_step")) == 6
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "series.csv" and str(path) in dataset.dataset.source
    assert metrics["n_params"] == 4 * (4 * 6) + 5 * 6  # one series per example: LSTM(4) on 1 feature


@pytest.mark.slow
def test_the_test_split_plays_no_part_in_training_or_selection(tmp_path, store):
    """Same data but for the test rows: identical learning curves, best epoch and
    validation error; only the test metrics move."""
    import pandas as pd

    from src.data.windows import split_bounds

    first = write_csv(tmp_path / "a.csv", rows=300)
    frame = pd.read_csv(first)
    test_start = split_bounds(300, 0.15, 0.15)["test"][0]
    frame.loc[test_start:, ["load", "price", "temp"]] *= 3.0
    second = tmp_path / "b.csv"
    frame.to_csv(second, index=False)
    results = []
    for path in (first, second):
        cfg = make_cfg("data=csv", f"data.path={path}", "data.input_steps=20", "data.horizon=5",
                       "arch=reshape_head", "arch.units=[4]", "train.epochs=4", "train.verbose=0",
                       "train.jit_compile=false", *store)
        results.append(train(cfg))
    client = client_for(tmp_path)
    histories = [[m.value for m in client.get_metric_history(r["run_id"], "val_loss")] for r in results]
    assert histories[0] == histories[1] and len(histories[0]) == 4
    for key in ("best_val_loss", "best_epoch", "val_mse", "val_mae"):
        assert results[0][key] == results[1][key], key
    assert results[0]["test_mse"] != results[1]["test_mse"]


@pytest.mark.slow
def test_nan_loss_fails_the_run(tmp_path, store):
    cfg = make_cfg("arch=reshape_head", "arch.units=[2]", "train.learning_rate=1e30", "train.epochs=3",
                   "train.jit_compile=false", *TINY[:1], *TINY[2:], *store)
    with pytest.raises(TrainingDiverged, match="NaN or infinite"):
        train(cfg)
    _, run = only_run(tmp_path)
    assert run.info.status == "FAILED"


class _Finalizer:
    """Ctrl+C arriving while a finalizer runs, as GitPython's Repo.__del__ does after MLflow
    starts a run: Python prints "Exception ignored in ..." and drops the KeyboardInterrupt."""

    def __del__(self):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGINT)
        sum(range(10_000))  # the handler runs here, inside the finalizer


class _CtrlCInAFinalizer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            _Finalizer()  # made and collected at once


@pytest.mark.slow
def test_ctrl_c_lost_in_a_finalizer_still_stops_the_run(tmp_path, store, capfd):
    """Before, the run trained every epoch to its end as if no Ctrl+C had come (in a full
    suite, test_ctrl_c_is_one_line_and_exit_130_not_a_traceback timed out once in three)."""
    cfg = make_cfg("arch=reshape_head", "arch.units=[2]", "train.epochs=50", "train.patience=50",
                   "train.jit_compile=false", *TINY[:1], *TINY[2:], *store)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[_CtrlCInAFinalizer()])
    _, run = only_run(tmp_path)
    assert run.info.status == "KILLED" and "epochs_trained" not in run.data.metrics
    assert "Exception ignored" not in capfd.readouterr().err  # its traceback is not printed


@pytest.mark.parametrize("overrides", [
    ["data.horizon=0"],
    ["arch.units=[0]"],
    ["data=csv", "data.path=/no/such/file.csv"],
    ["data.n_windows=20"],
])
def test_bad_input_creates_no_store_and_no_run(tmp_path, no_store, overrides):
    with pytest.raises(UserError):
        train(make_cfg(*overrides, *no_store))
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "artifacts").exists()


@pytest.mark.slow
def test_cli_reports_user_errors_in_one_line(tmp_path, no_store):
    path = write_csv(tmp_path / "s.csv")
    result = run_cli("src.train", "data=csv", f"data.path={path}", "data.columns=[load,wind]", *no_store)
    assert result.returncode == 2
    lines = [l for l in result.stderr.splitlines() if l.startswith("error")]
    assert lines == [f"error: data.columns: wind not in {path}; available: date, load, price, temp"]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_a_dataset_another_worker_just_created_is_logged_again(tmp_path, store, monkeypatch):
    """Seen with two workers on an mlflow server backed by PostgreSQL: both create the same
    dataset, the second gets a unique-key conflict. The run logs its input again instead of
    failing the trial."""
    from mlflow.exceptions import MlflowException

    from src import run_record

    real, calls = mlflow.log_input, []

    def conflict_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(*args, **kwargs)  # the other worker's insert
            raise MlflowException('BAD_REQUEST: (psycopg.errors.UniqueViolation) duplicate key value '
                                  'violates unique constraint "dataset_pk"')
        return real(*args, **kwargs)

    cfg = make_cfg(*TINY, *store)
    data = prepare(cfg.data)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setattr(mlflow, "log_input", conflict_once)
    experiment = mlflow.create_experiment("conflict", artifact_location=(tmp_path / "a").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        run_record.log_dataset(cfg.data, data)
    assert len(calls) == 2
    [dataset] = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert dataset.dataset.digest == data.fingerprint


def test_epoch_metrics_that_fail_to_log_are_raised(tmp_path, store):
    """Epoch metrics go through MLflow's asynchronous queue, whose thread only prints a
    failure; EpochLogger.wait() raises it, so the run fails instead of missing epochs."""
    from mlflow.exceptions import MlflowException

    from src.one_run import EpochLogger

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = mlflow.create_experiment("async", artifact_location=(tmp_path / "a").as_uri())
    logger, client = EpochLogger(), client_for(tmp_path)
    with mlflow.start_run(experiment_id=experiment) as run:
        logger.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
        logger.wait()
        assert [m.value for m in client.get_metric_history(run.info.run_id, "val_loss")] == [2.0]
        client.delete_run(run.info.run_id)  # the store now refuses what is logged to it
        logger.on_epoch_end(1, {"loss": 0.5, "val_loss": 1.5})
        with pytest.raises(MlflowException, match="must be in the 'active' state"):
            logger.wait()
        client.restore_run(run.info.run_id)


@pytest.mark.slow
def test_a_failed_multirun_job_is_one_line_and_the_next_job_still_runs(tmp_path, store):
    """Hydra goes on after a failed job of a --multirun; the one-line exit of a user error
    (SystemExit) stopped every job after it."""
    result = run_cli("src.train", "-m", "data.n_windows=-5,200", "arch=naive", *store,
                     f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: data.n_windows must be a positive integer, got -5",
                      "error: 1 job(s) of the multirun failed (#0); the others ran"]
    assert "naive: test MSE" in result.stdout + result.stderr  # job #1 ran


def test_ctrl_c_is_noticed_only_from_the_main_thread():
    """Signal handlers can only be set there: off it the block runs with Python's own."""
    import signal
    import threading

    from src.interrupts import noticed

    seen = []

    def run():
        with noticed() as interrupt:
            seen.append((interrupt.requested, signal.getsignal(signal.SIGINT)))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [(False, signal.default_int_handler)]
    with noticed() as interrupt:
        assert signal.getsignal(signal.SIGINT) == interrupt.handle
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_ignored_where_the_run_started_stays_ignored():
    """`python -m src.train ... &` in a shell script starts with Ctrl+C ignored, which
    Python's own handler respects; the run's handler replaced it, so a Ctrl+C meant for the
    script's foreground job stopped the background run (and a suite started that way failed
    its Ctrl+C tests, by the order the tests ran in)."""
    import os
    import signal

    from src.interrupts import noticed

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with noticed() as interrupt:
            inside = signal.getsignal(signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        assert inside is signal.SIG_IGN and not interrupt.requested
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_at(tmp_path, statement: str):
    """An SQLite engine that sends this process Ctrl+C as it runs a statement starting with
    `statement`: the handler runs inside SQLAlchemy's call."""
    import os
    import signal

    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/store.db")

    @sqlalchemy.event.listens_for(engine, "before_cursor_execute")
    def ctrl_c(conn, cursor, sql, *args):
        if sql.startswith(statement):
            os.kill(os.getpid(), signal.SIGINT)

    return engine


def test_ctrl_c_inside_a_database_call_waits_until_the_call_is_over(tmp_path):
    """Before, the KeyboardInterrupt was raised inside SQLAlchemy's statement, whose
    connection then kept the SQLite lock: marking the run KILLED waited 20 s for it and failed
    with a traceback (once in a full suite). Now the statement and its commit complete, the
    store stays writable, and the Ctrl+C is raised once the call has returned."""
    import time

    import sqlalchemy

    from src.interrupts import noticed

    engine = _ctrl_c_at(tmp_path, "insert")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("create table runs (status text)"))

    with pytest.raises(KeyboardInterrupt), noticed() as interrupt:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("insert into runs values ('RUNNING')"))
        assert interrupt.requested
        time.sleep(5)  # the deferred Ctrl+C ends this
    with sqlalchemy.create_engine(f"sqlite:///{tmp_path}/store.db",
                                  connect_args={"timeout": 0.5}).begin() as other:
        other.execute(sqlalchemy.text("update runs set status = 'KILLED'"))
        assert other.execute(sqlalchemy.text("select status from runs")).all() == [("KILLED",)]


def test_ctrl_c_in_the_last_database_call_of_a_block_is_raised_when_the_block_ends(tmp_path):
    """A Ctrl+C while a run's end was written (the last call inside `noticed`) was deferred
    until the call returned, and then dropped: the block ended first and took the deferred
    signal with it, so `make compare` went on to its next repeat."""
    import signal

    import sqlalchemy

    from src.interrupts import noticed

    engine = _ctrl_c_at(tmp_path, "create")
    with pytest.raises(KeyboardInterrupt), noticed() as interrupt:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("create table runs (status text)"))
    assert interrupt.requested
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own, back


def test_figures_of_many_series_draw_a_few_and_say_so():
    """Before, a panel row per series: 100 series took 4 minutes to draw (matplotlib's
    shared axes), 300 hours, and `src.train` on such data hung after training."""
    import pandas as pd

    from src.data.windows import Split
    from src.run_figures import forecast_figure, history_figure

    n_series, names, drawn = 12, [f"s{i}" for i in range(12)], 8
    rng = np.random.default_rng(0)
    split = Split(X=rng.normal(size=(5, 6, n_series)), y=rng.normal(size=(5, 2, n_series)), starts=np.arange(5))
    fig = forecast_figure(split, split.y, names, n_windows=3, title="run")
    assert len(fig.axes) == drawn * 3
    assert fig.get_suptitle() == "run (8 of 12 series drawn)"
    assert [fig.axes[3 * row].get_ylabel() for row in (0, drawn - 1)] == ["s0", "s11"]
    history = pd.DataFrame(rng.normal(size=(6, n_series)), columns=names)
    fig = history_figure(history, history.iloc[:2].reset_index(drop=True), title="model")
    assert len(fig.axes) == drawn and fig.get_suptitle() == "model (8 of 12 series drawn)"


def test_the_run_summary_says_there_is_no_ratio_where_the_naive_forecast_is_exact():
    """A flat test split: the naive MSE is 0, and the line read 'nanx naive MSE'."""
    from src.train import scores_text

    metrics = {"test_mse": 0.5, "test_mae": 0.25, "test_mse_ratio_to_naive": 0.931}
    assert scores_text(metrics) == "test MSE 0.5, MAE 0.25, 0.93x naive MSE"
    assert scores_text({**metrics, "test_mse_ratio_to_naive": float("nan")}) == \
        "test MSE 0.5, MAE 0.25, naive MSE 0, no ratio"
