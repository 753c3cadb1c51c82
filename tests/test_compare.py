"""`src.compare` on a small sweep: the report's files and MLflow run, repeats over seeds,
and the honesty checks (one split for all, fewer trials flagged, missing metrics listed)."""

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient

from conftest import CONF_DIR
from src.compare import compare
from src.config import UserError
from src.sweep import sweep

FAST = ["data.n_windows=200", "train.epochs=2", "train.jit_compile=false", "search.space.units.low=2",
        "search.space.units.high=4", "search.space.depth.high=1", "search/space=default"]


def call(fn, overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return fn(compose("config", overrides=overrides), *([overrides] if fn is sweep else []))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A sweep of reshape_head (3 finished trials) and linear (2), with the naive baseline."""
    tmp = tmp_path_factory.mktemp("compare")
    base = [f"tracking.uri=sqlite:///{tmp}/mlflow.db", f"tracking.artifact_root={tmp}/artifacts",
            "tracking.experiment=test", f"search.journal={tmp}/optuna/journal.log",
            f"compare.report_dir={tmp}/reports", "search.baselines=[naive]", *FAST]
    call(sweep, [*base, "search.archs=[reshape_head,linear]", "search.n_trials=2"])
    call(sweep, [*base, "search.archs=[reshape_head]", "search.n_trials=3"])
    return tmp, base


def client_for(tmp):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    return client, client.get_experiment_by_name("test").experiment_id


@pytest.mark.slow
def test_report_files_rows_and_mlflow_run(swept):
    tmp, base = swept
    rows = call(compare, [*base, "compare.repeats=2"])
    assert [r["approach"] for r in rows] == ["reshape_head", "linear", "naive"]
    by = {r["approach"]: r for r in rows}
    assert "fewer trials (2 of 3)" in by["linear"]["notes"]
    assert "fewer trials" not in by["reshape_head"]["notes"]
    assert by["naive"]["ratio_to_naive"] == pytest.approx(1.0)
    assert sum("lowest test MSE" in r["notes"] for r in rows) == 1
    assert by["reshape_head"]["test_mse_repeats"].endswith("(n=2)")

    folder = tmp / "reports" / "sweep"
    for name in ("summary.md", "summary.csv", "loss_vs_params.png", "error_by_step.png",
                 "error_by_series.png", "forecasts.png"):
        assert (folder / name).is_file(), name
    table = pd.read_csv(folder / "summary.csv")
    assert list(table["approach"]) == ["reshape_head", "linear", "naive"]
    assert {"test_mse_mean", "test_mse_std", "seconds_per_epoch", "predict_ms_per_window",
            "epochs", "reproduce"} <= set(table.columns)
    assert table["reproduce"].str.startswith("python -m src.train").all()
    assert "split fingerprint" in (folder / "summary.md").read_text()

    client, experiment_id = client_for(tmp)
    runs = client.search_runs([experiment_id], "tags.role = 'comparison'")
    assert len(runs) == 1
    assert "summary.md" in {a.path for a in client.list_artifacts(runs[0].info.run_id)}
    repeats = client.search_runs([experiment_id], "tags.role = 'repeat'")
    assert len(repeats) == 4  # reshape_head and linear, two seeds each; naive has none
    assert sorted({r.data.params["seed"] for r in repeats}) == ["43", "44"]

    call(compare, [*base, "compare.repeats=2"])  # a second report reuses the repeats
    assert len(client.search_runs([experiment_id], "tags.role = 'repeat'")) == 4


@pytest.mark.slow
def test_runs_on_other_windows_are_refused_by_name(swept):
    tmp, base = swept
    client, experiment_id = client_for(tmp)
    trial = client.search_runs([experiment_id], "tags.role = 'trial' and tags.arch = 'linear'")[0]
    real = trial.data.tags["split_fingerprint"]
    client.set_tag(trial.info.run_id, "split_fingerprint", "0000000000000000")
    try:
        with pytest.raises(UserError, match=f"0000000000000000: {trial.info.run_name}"):
            call(compare, [*base, "compare.repeats=0"])
    finally:
        client.set_tag(trial.info.run_id, "split_fingerprint", real)


@pytest.mark.slow
def test_runs_missing_a_metric_are_listed(swept):
    tmp, base = swept
    client, experiment_id = client_for(tmp)
    parent = client.search_runs([experiment_id], "tags.role = 'study' and tags.arch = 'linear'")[0]
    fingerprint = parent.data.tags["split_fingerprint"]
    odd = client.create_run(experiment_id, run_name="linear-trial-odd", tags={
        "role": "trial", "sweep": "sweep", "arch": "linear", "trial_state": "COMPLETE",
        "split_fingerprint": fingerprint, "mlflow.parentRunId": parent.info.run_id})
    client.log_metric(odd.info.run_id, "best_val_loss", 99.0)
    client.set_terminated(odd.info.run_id)
    try:
        call(compare, [*base, "compare.repeats=0"])
        summary = (tmp / "reports" / "sweep" / "summary.md").read_text()
        assert f"linear-trial-odd ({odd.info.run_id}): test_mse, test_mae, n_params" in summary
    finally:
        client.delete_run(odd.info.run_id)


@pytest.mark.slow
@pytest.mark.parametrize("override, message", [
    ("tracking.experiment=nope", "no MLflow experiment 'nope'"),
    ("search.name=nope", "sweep 'nope' has no finished trials .* sweeps there: sweep"),
])
def test_unknown_experiment_or_sweep_is_one_clear_error(swept, override, message):
    tmp, base = swept
    with pytest.raises(UserError, match=message):
        call(compare, [*base, override])
    assert not (tmp / "reports" / "nope").exists()


def test_no_store_is_an_error_and_creates_none(tmp_path):
    with pytest.raises(UserError, match="no MLflow store at"):
        call(compare, [f"tracking.uri=sqlite:///{tmp_path}/none.db"])
    assert not (tmp_path / "none.db").exists()
