"""Using the winner: every run's MLflow model forecasts what the pipeline forecast, in a
fresh process; it holds no pickle; `src.forecast` and a real `mlflow models serve` answer
with the same numbers; bad input is one line (CLI) or a 400 (server)."""

import json
import os
import shutil
import socket
import sysconfig
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, make_cfg, run_cli
from src.config import UserError
from src.data.sources import synthetic
from src.data.model_inputs import prepare
from src.evaluation import predict
from src.forecast import forecast
from src.train import train

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]

# (arch, scaling, stacking): every approach, every scaling, both stackings.
CASES = [("reshape_head", "window", "channels"), ("timedistributed", "window", "channels"),
         ("seq2seq", "window", "channels"), ("naive", "window", "channels"),
         ("linear", "window", "channels"), ("reshape_head", "global", "samples"),
         ("seq2seq", "revin", "channels"), ("timedistributed", "revin", "samples")]
TINY = ["data.n_windows=200", "train.epochs=2", "train.verbose=0", "train.jit_compile=false",
        "train.steps_per_execution=1"]
WINDOWS = [0, 1, 2]  # the test windows (all three of this small data), compared one by one


class KeepModel(keras.callbacks.Callback):
    """The trained network as fit left it (best weights restored)."""

    def on_train_end(self, logs=None):
        self.network = self.model


@pytest.fixture(scope="session")  # xdist may run other modules between this one's tests
def trained(tmp_path_factory, empty_store):
    """One run per case; the pipeline's own test forecasts of a few windows."""
    tmp = tmp_path_factory.mktemp("serving")
    shutil.copyfile(empty_store, tmp / "mlflow.db")
    store = [f"tracking.uri=sqlite:///{tmp}/mlflow.db", f"tracking.artifact_root={tmp}/artifacts",
             "tracking.experiment=serve"]
    cases = []
    for arch, scaling, stacking in CASES:
        overrides = [f"arch={arch}", f"data.scaling={scaling}", f"data.stacking={stacking}", *TINY, *store]
        if arch in ("reshape_head", "timedistributed", "seq2seq"):
            overrides.append("arch.units=[4]")
        cfg = make_cfg(*overrides)
        keep = KeepModel()
        metrics = train(cfg, callbacks=[keep])
        data = prepare(cfg.data)
        # naive and the closed-form linear never run Keras's fit: the test MSE checks them
        network = getattr(keep, "network", None)
        run = mlflow.get_run(metrics["run_id"])
        expected = predict(network, data, data.test) if network is not None else None
        cases.append({"case": f"{arch}-{scaling}-{stacking}", "uri": run.data.tags["model_uri"],
                      "run_id": run.info.run_id, "arch": arch,
                      "windows": data.test.X[WINDOWS], "expected": expected, "truth": data.test.y,
                      "all_windows": data.test.X, "test_mse": metrics["test_mse"], "series": data.series})
    return tmp, store, cases


# A user's process on a machine without this project (`python -S`: no site, so no editable
# install of it; the packages' folder added by hand), with a package of its own named `src`,
# as this project's is, imported first.
LOAD_AND_PREDICT = """
import json, sys
sys.path.append(sys.argv[4])
sys.path.insert(0, sys.argv[5])
import src.users_own
import mlflow, numpy as np, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
out = {}
for case in json.load(open(sys.argv[2])):
    model = mlflow.pyfunc.load_model(case["uri"])
    out[case["case"]] = [model.predict(pd.DataFrame(w, columns=case["series"])).to_numpy().tolist()
                         for w in case["windows"]]
import src.users_own
out["users_src"] = sys.modules["src"].__file__
out["forecaster_code"] = sys.modules["many2many_model.serving.forecaster"].__file__
json.dump(out, open(sys.argv[3], "w"))
"""


def test_every_logged_model_forecasts_what_the_pipeline_did_in_a_fresh_process(trained):
    tmp, _, cases = trained
    spec = [{"case": c["case"], "uri": c["uri"], "series": c["series"],
             "windows": c["all_windows"].tolist()} for c in cases]
    (tmp / "spec.json").write_text(json.dumps(spec))
    (tmp / "user" / "src").mkdir(parents=True)
    (tmp / "user" / "src" / "__init__.py").write_text("")
    (tmp / "user" / "src" / "users_own.py").write_text("")
    # Before, the shipped code was a package `src` too: "No module named 'src.serving'".
    result = subprocess.run([sys.executable, "-S", "-c", LOAD_AND_PREDICT, f"sqlite:///{tmp}/mlflow.db",
                             str(tmp / "spec.json"), str(tmp / "out.json"), sysconfig.get_paths()["purelib"],
                             str(tmp / "user")], cwd=tmp, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads((tmp / "out.json").read_text())
    assert not served.pop("forecaster_code").startswith(str(ROOT))  # the model's own copy
    assert served.pop("users_src") == str(tmp / "user" / "src" / "__init__.py")  # still the user's
    for case in cases:
        forecasts = np.asarray(served[case["case"]])                  # (N, H, C)
        if case["expected"] is not None:
            np.testing.assert_allclose(forecasts[WINDOWS], case["expected"][WINDOWS], rtol=1e-5, atol=1e-6,
                                       err_msg=case["case"])
        elif case["case"].startswith("naive"):  # the last value, repeated
            np.testing.assert_allclose(forecasts, np.repeat(case["all_windows"][:, -1:], forecasts.shape[1], 1),
                                       rtol=1e-6, err_msg=case["case"])
        mse = float(np.mean((forecasts - case["truth"]) ** 2))
        assert mse == pytest.approx(case["test_mse"], rel=1e-5), case["case"]


def test_a_logged_model_holds_no_pickle(trained):
    tmp, _, cases = trained
    for case in cases[:3]:
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=case["uri"], dst_path=str(tmp / case["case"])))
        files = [f for f in folder.rglob("*") if f.is_file()]
        assert {"MLmodel", "mlflow_model.py", "forecaster.json", "network.keras"} <= {f.name for f in files}
        for file in files:
            assert file.suffix not in (".pkl", ".pickle", ".joblib"), file
            head = file.read_bytes()[:2]
            assert not (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")), file
        flavor = yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["python_function"]
        assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"
        signature = yaml.safe_load((folder / "MLmodel").read_text())["signature"]
        assert [c["name"] for c in json.loads(signature["inputs"])] == case["series"]


def test_a_model_is_logged_with_its_input_example_without_being_loaded_again(tmp_path, store, monkeypatch):
    """MLflow would load the model it just wrote and forecast the example again (0.3-0.8 s
    a run): the fresh-process test above checks every logged model instead."""
    import mlflow.models.utils

    checked = []
    monkeypatch.setattr(mlflow.models.utils, "_validate_serving_input", lambda *args, **kw: checked.append(args))
    metrics = train(make_cfg("arch=reshape_head", "arch.units=[2]", *TINY, *store))
    assert checked == []
    uri = mlflow.get_run(metrics["run_id"]).data.tags["model_uri"]
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "model")))
    example = json.loads((folder / "serving_input_example.json").read_text())
    assert example["dataframe_split"]["columns"] == ["s0", "s1"]
    assert len(example["dataframe_split"]["data"]) == 40  # the last training window's history


@pytest.fixture(scope="session")  # xdist may run other modules between this one's tests
def champion(trained):
    """The first case registered as the champion of a sweep named `s`, and a CSV of the
    same series with a date column."""
    tmp, store, cases = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    version = mlflow.register_model(cases[0]["uri"], "serve-s")
    mlflow.MlflowClient().set_registered_model_alias("serve-s", "champion", version.version)
    frame = synthetic(2, 200, 40, 10)
    frame.insert(0, "date", pd.date_range("2025-01-01", periods=len(frame), freq="D").strftime("%Y-%m-%d"))
    frame.to_csv(tmp / "series.csv", index=False)
    args = [f"tracking.uri=sqlite:///{tmp}/mlflow.db", "tracking.experiment=serve", "search.name=s",
            f"data.path={tmp / 'series.csv'}"]
    return tmp, args, frame


def test_forecast_cli_continues_the_dates_and_backtests(champion):
    tmp, args, frame = champion
    result = run_cli("src.forecast", *args, f"out_dir={tmp / 'fc'}", cwd=tmp)
    assert result.returncode == 0, result.stderr[-2000:]
    written = pd.read_csv(tmp / "fc" / "forecast.csv")
    assert list(written.columns) == ["date", "s0", "s1"] and len(written) == 10
    last = pd.Timestamp(frame["date"].iloc[-1])  # daily rows: the forecast goes on day by day
    assert list(written["date"]) == [str((last + pd.Timedelta(days=k)).date()) for k in range(1, 11)]
    assert (tmp / "fc" / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    backtest = run_cli("src.forecast", *args, "windows=all", f"out_dir={tmp / 'bt'}", cwd=tmp)
    assert backtest.returncode == 0, backtest.stderr[-2000:]
    per_window = pd.read_csv(tmp / "bt" / "backtest.csv")
    assert len(per_window) == len(frame) - 50 + 1 and "| reshape_head" in backtest.stdout


@pytest.mark.parametrize("edit, override, message", [
    (lambda f: f.drop(columns=["s1"]), None, "the model forecasts s0, s1; missing s1"),
    (lambda f: f.head(20), None, "needs at least 40 rows"),
    (lambda f: f.assign(s0=f["s0"].where(f.index != len(f) - 10)), None, "column 's0' row 337 holds nan"),
    (lambda f: f.assign(s1=["x"] * len(f)), None, "column 's1' row 0 holds 'x', not a number"),  # text anywhere
    (None, "model=models:/nope/1", "model models:/nope/1:"),
    (None, "search.name=never-compared", "run `make compare` to register one"),
    (None, "windows=some", "windows must be one of last, all"),
])
def test_bad_forecast_input_is_one_line_and_writes_nothing(champion, edit, override, message):
    tmp, args, frame = champion
    if edit is not None:
        bad = edit(frame.copy())
        bad.to_csv(tmp / "bad.csv", index=False)
        args = [*args[:-1], f"data.path={tmp / 'bad.csv'}"]
    cfg = make_cfg(*args, *([override] if override else []), f"out_dir={tmp / 'never'}", config_name="forecast")
    with pytest.raises(UserError, match=message):
        forecast(cfg)
    assert not (tmp / "never").exists()


def test_forecast_cli_error_exit_code(champion):
    tmp, args, _ = champion
    result = run_cli("src.forecast", *args, "model=models:/nope@champion", cwd=tmp)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: model models:/nope@champion:")


def test_a_runs_uri_names_the_model_by_its_approach(trained, champion):
    """`runs:/<id>/model`, the usual path, found nothing and the hint did not say what the
    path is."""
    tmp, args, _ = champion
    case = trained[2][0]
    wrong = run_cli("src.forecast", *args, f"model=runs:/{case['run_id']}/model", f"out_dir={tmp / 'w'}", cwd=tmp)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines()[-1].endswith(
        "a run logs its model under its approach's name: runs:/<run id>/<approach>, e.g. runs:/<run id>/reshape_head")
    right = run_cli("src.forecast", *args, f"model=runs:/{case['run_id']}/{case['arch']}", f"out_dir={tmp / 'r'}", cwd=tmp)
    assert right.returncode == 0, right.stderr[-2000:]


def test_a_model_url_with_a_password_is_shown_hidden(trained, champion, capsys, monkeypatch):
    """`model=` a URL with user:password@ was printed and drawn in the figure's title as given."""
    import src.run_figures
    from src.forecast import forecast

    tmp, args, _ = champion
    folder = mlflow.artifacts.download_artifacts(artifact_uri=trained[2][0]["uri"], dst_path=str(tmp / "local"))
    titles = []
    drawn = src.run_figures.history_figure
    monkeypatch.setattr(src.run_figures, "history_figure",
                        lambda *a, **k: titles.append(k["title"]) or drawn(*a, **k))
    forecast(make_cfg(*args, f"model=file://alice:S3cretPW@localhost{folder}", f"out_dir={tmp / 'url'}",
                      config_name="forecast"))
    printed = capsys.readouterr().out
    assert "file://alice:***@localhost" in printed and "file://alice:***@localhost" in titles[0]
    assert "S3cretPW" not in printed + titles[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, frame: pd.DataFrame) -> tuple[int, dict]:
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split"))}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_mlflow_models_serve_answers_with_the_forecast_cli_numbers(champion):
    tmp, args, frame = champion
    result = run_cli("src.forecast", *args, f"out_dir={tmp / 'cli'}", cwd=tmp)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = pd.read_csv(tmp / "cli" / "forecast.csv")[["s0", "s1"]].to_numpy()
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/serve-s@champion",
                               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.time() < deadline, "mlflow models serve did not answer in 180 s"
                time.sleep(1)
        history = frame[["s0", "s1"]].tail(40)
        status, answer = _post(port, history)
        assert status == 200, answer
        np.testing.assert_allclose(pd.DataFrame(answer["predictions"]).to_numpy(), expected, rtol=1e-9)
        status, answer = _post(port, history.tail(10))
        assert status == 400 and "needs at least 40 rows" in answer["message"]
        status, answer = _post(port, history.assign(s0=np.nan))
        assert status == 400 and "not a finite number" in answer["message"]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_make_serve_checks_its_model_in_one_line_before_the_server_starts(champion):
    """`make serve` of a model that is not there (before `make compare`, or a preset's champion
    under the default name) ended in MLflow's traceback; it now checks the model first."""
    tmp, _, _ = champion

    def check(uri: str, store: Path):
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}", "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "src.serving.check", uri], capture_output=True,
                              text=True, env=env, cwd=tmp, timeout=120)

    assert check("models:/serve-s@champion", tmp / "mlflow.db").returncode == 0
    missing = check("models:/many2many-sweep@champion", tmp / "mlflow.db")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr[-2000:]
    assert missing.stderr.startswith("error: model models:/many2many-sweep@champion: Registered Model "
                                     "with name=many2many-sweep not found; run `make compare` to register one")
    assert "it is models:/my_csv-my_csv@champion (make serve MODEL=...;" in missing.stderr  # what make serve takes
    no_store = check("models:/serve-s@champion", tmp / "elsewhere" / "mlflow.db")
    assert no_store.returncode == 2 and no_store.stderr.startswith("error: no MLflow store at sqlite:///")
    assert not (tmp / "elsewhere").exists()
    # What `make serve` runs, in order (-n: printed, not run).
    dry = subprocess.run(["make", "-n", "-C", str(ROOT), "serve", "MODEL=models:/x@champion"],
                         capture_output=True, text=True, timeout=60)
    commands = [line for line in dry.stdout.splitlines() if "models:/x@champion" in line]
    assert len(commands) == 2 and "-m src.serving.check models:/x@champion" in commands[0]
    assert "-m mlflow models serve -m models:/x@champion" in commands[1]


def test_a_runs_uri_of_a_run_that_did_not_finish_says_so(trained, caplog, capsys):
    """A failed or stopped run's model loads and forecasts: src.forecast and make serve's
    check said nothing of how its run ended."""
    import logging

    from src.forecast import load
    from src.serving import check

    tmp, _, cases = trained
    case = next(c for c in cases if c["arch"] == "naive")
    uri = f"runs:/{case['run_id']}/naive"
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    client = mlflow.MlflowClient()
    try:
        for status, said in [("FINISHED", None), ("FAILED", "ended FAILED"),
                             ("KILLED", "was stopped (KILLED: a pruned trial, or Ctrl+C)"),
                             ("RUNNING", "is still RUNNING, or its process died")]:
            client.set_terminated(case["run_id"], status)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="src.forecast"):
                assert load(uri, tmp / f"load-{status}").horizon == 10
            check.main([uri])
            warned = capsys.readouterr().err
            if said is None:
                assert not caplog.records and warned == ""
            else:
                line = f"run {case['run_id']} {said}, not FINISHED: the model it logged is used all the same"
                assert [r.getMessage() for r in caplog.records] == [f"{line}; mlflow ui (make ui) shows the run"]
                assert warned.startswith(f"warning: {line}")
    finally:
        client.set_terminated(case["run_id"], "FINISHED")
