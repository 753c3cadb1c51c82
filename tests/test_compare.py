"""`src.compare` on a small sweep: the report's files and MLflow run, repeats over seeds,
and the honesty checks (one split for all, fewer trials flagged, missing metrics listed)."""

import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from hydra import initialize_config_dir
from mlflow.tracking import MlflowClient

from conftest import CONF_DIR, make_cfg, tags_not_in_the_schema
from src.compare import compare
from src.config import UserError
from src.sweep import sweep

FAST = ["search.workers=1", "data.n_windows=200", "train.epochs=2", "train.jit_compile=false",
        "train.steps_per_execution=1", "search.space.units.low=2",
        "search.space.units.high=4", "search.space.depth.high=1", "search/space=default",
        "search.plots=false"]


pytestmark = pytest.mark.xdist_group("compare")  # one worker builds the module's sweep once


def call(fn, overrides):
    cfg = make_cfg(*overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return fn(cfg, *([overrides] if fn is sweep else []))


@pytest.fixture(scope="session")  # xdist may run other modules between this one's tests
def swept(tmp_path_factory, empty_store):
    """A sweep of reshape_head (3 finished trials) and linear (2, closed form: deterministic),
    with the naive and theta (statistical) baselines."""
    tmp = tmp_path_factory.mktemp("compare")
    shutil.copyfile(empty_store, tmp / "mlflow.db")
    base = [f"tracking.uri=sqlite:///{tmp}/mlflow.db", f"tracking.artifact_root={tmp}/artifacts",
            "tracking.experiment=test", f"search.journal={tmp}/optuna/journal.log",
            f"compare.report_dir={tmp}/reports", "search.baselines=[naive,theta]", *FAST]
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
    assert sorted(r["approach"] for r in rows) == ["linear", "naive", "reshape_head", "theta"]
    assert [r["test_mse_mean"] for r in rows] == sorted(r["test_mse_mean"] for r in rows)  # winner first
    assert "lowest test MSE" in rows[0]["notes"]
    by = {r["approach"]: r for r in rows}
    assert "fewer trials (2 of 3)" in by["linear"]["notes"]
    assert "fewer trials" not in by["reshape_head"]["notes"]
    assert by["naive"]["ratio_to_naive"] == pytest.approx(1.0)
    assert sum("lowest test MSE" in r["notes"] for r in rows) == 1
    assert by["reshape_head"]["test_mse_repeats"].endswith("(n=2)")
    for arch in ("linear", "theta"):  # deterministic: the sweep's run, no seeds
        assert by[arch]["test_mse_repeats"].endswith("± 0 (n=1)")
    assert by["theta"]["statistical"] and by["reshape_head"]["neural"] and not by["linear"]["neural"]

    folder = tmp / "reports" / "sweep"
    for name in ("summary.md", "summary.html", "summary.csv", "loss_vs_params.png", "error_by_step.png",
                 "error_by_series.png", "forecasts.png"):
        assert (folder / name).is_file(), name
    table = pd.read_csv(folder / "summary.csv")
    assert list(table["approach"]) == [r["approach"] for r in rows]
    assert {"test_mse_mean", "test_mse_std", "seconds_per_epoch", "predict_ms_per_window",
            "epochs", "reproduce"} <= set(table.columns)
    assert table["reproduce"].str.startswith("python -m src.train").all()
    assert "split fingerprint" in (folder / "summary.md").read_text()
    assert "theta: statistical baselines, fitted on the training rows" in (folder / "summary.md").read_text()

    client, experiment_id = client_for(tmp)
    runs = client.search_runs([experiment_id], "tags.role = 'comparison'")
    assert len(runs) == 1
    comparison = runs[0]
    assert {"summary.md", "summary.html"} <= {a.path for a in client.list_artifacts(comparison.info.run_id)}
    for row in rows:
        for stat in ("test_mse_mean", "test_mse_std", "ratio_to_naive", "n_params", "train_seconds",
                     "search_seconds"):
            assert comparison.data.metrics[f"{stat}/{row['approach']}"] == pytest.approx(row[stat]), stat
    note = comparison.data.tags["mlflow.note.content"]
    assert note.startswith(f"{rows[0]['approach']}, ")
    assert f"has the lowest test MSE, {rows[0]['test_mse_mean']:.3g}" in note
    assert f"{rows[1]['approach']} is " in note and "% worse" in note
    assert f"the best LSTM layout, reshape_head ({by['reshape_head']['test_mse_mean']:.3g}" in note
    repeats = client.search_runs([experiment_id], "tags.role = 'repeat'")
    assert len(repeats) == 2  # reshape_head, two seeds; linear, naive and theta are deterministic
    assert sorted({r.data.params["seed"] for r in repeats}) == ["43", "44"]
    assert {r.data.tags["mlflow.parentRunId"] for r in repeats} == {comparison.info.run_id}

    # The leader is the champion of the registry, tagged with its row of the report.
    leader = next(r for r in rows if "lowest test MSE" in r["notes"])
    champion = client.get_model_version_by_alias("test-sweep", "champion")
    assert champion.tags["approach"] == leader["approach"]
    assert champion.tags["test_mse"] == leader["test_mse_repeats"]
    assert champion.tags["split_fingerprint"] == runs[0].data.tags["split_fingerprint"]
    assert champion.tags["reproduce"].startswith("python -m src.train")
    assert champion.tags["model_uri"] == client.get_run(leader["run_id"]).data.tags["model_uri"]

    call(compare, [*base, "compare.repeats=2"])  # a second report reuses the repeats, nested anew...
    repeats = client.search_runs([experiment_id], "tags.role = 'repeat'")
    latest = client.search_runs([experiment_id], "tags.role = 'comparison'", order_by=["attributes.start_time DESC"])[0]
    assert len(repeats) == 2 and latest.info.run_id != comparison.info.run_id
    assert {r.data.tags["mlflow.parentRunId"] for r in repeats} == {latest.info.run_id}
    again = client.get_model_version_by_alias("test-sweep", "champion")  # ...and keeps the champion
    assert again.version == champion.version
    assert len(client.search_model_versions("name = 'test-sweep'")) == 1


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


@pytest.mark.slow
def test_a_study_with_only_failed_trials_keeps_its_row(swept):
    tmp, base = swept
    client, experiment_id = client_for(tmp)
    fingerprint = client.search_runs([experiment_id], "tags.role = 'study'")[0].data.tags["split_fingerprint"]
    study = client.create_run(experiment_id, run_name="sweep-seq2seq", tags={
        "role": "study", "sweep": "sweep", "arch": "seq2seq", "split_fingerprint": fingerprint})
    failed = client.create_run(experiment_id, run_name="seq2seq-trial-0", tags={
        "role": "trial", "sweep": "sweep", "arch": "seq2seq", "trial_state": "FAIL",
        "split_fingerprint": fingerprint, "mlflow.parentRunId": study.info.run_id})
    client.set_terminated(failed.info.run_id, "FAILED")
    try:
        rows = call(compare, [*base, "compare.repeats=0"])
        by = {r["approach"]: r for r in rows}
        assert by["seq2seq"]["notes"] == "no finished trial" and by["seq2seq"]["trials"] == "0/0/1"
        table = pd.read_csv(tmp / "reports" / "sweep" / "summary.csv")
        assert "seq2seq" in set(table["approach"])
        assert "| seq2seq" in (tmp / "reports" / "sweep" / "summary.md").read_text()
    finally:
        client.delete_run(study.info.run_id)
        client.delete_run(failed.info.run_id)


def test_a_sweep_stopped_before_its_first_trial_is_one_clear_error(tmp_path, store):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment_id = client.create_experiment("test", artifact_location=(tmp_path / "a").as_uri())
    client.create_run(experiment_id, run_name="sweep-linear", tags={
        "role": "study", "sweep": "sweep", "arch": "linear"})
    with pytest.raises(UserError, match="sweep 'sweep' has no finished trials"):
        call(compare, [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", "tracking.experiment=test",
                       f"compare.report_dir={tmp_path}/reports"])
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_an_edited_stored_config_is_refused_not_run(swept):
    """A store others can write must not make compare call what it names: an edited
    `_target_` in a baseline's config.yaml is refused with the run and the key."""
    tmp, base = swept
    client, experiment_id = client_for(tmp)
    [baseline] = client.search_runs([experiment_id], "tags.role = 'baseline' and tags.arch = 'naive'")
    artifact = Path(baseline.info.artifact_uri.removeprefix("file://")) / "config.yaml"
    original = artifact.read_text()
    target = tmp / "written-by-compare"
    edited = yaml.safe_load(original)
    edited["data"]["source"] = {"_target_": "shutil.copyfile", "src": str(artifact), "dst": str(target)}
    artifact.write_text(yaml.safe_dump(edited))
    try:
        with pytest.raises(UserError, match=f"run {baseline.info.run_id}: data.source._target_: "
                                            f"'shutil.copyfile' is not allowed"):
            call(compare, [*base, "compare.repeats=1"])
        assert not target.exists()
    finally:
        artifact.write_text(original)


@pytest.mark.slow
def test_the_champion_alias_moves_only_to_a_new_winner(swept):
    tmp, base = swept
    client, experiment_id = client_for(tmp)
    call(compare, [*base, "compare.repeats=0"])
    winner = client.get_model_version_by_alias("test-sweep", "champion")
    loser = next(r for r in client.search_runs([experiment_id], "tags.role = 'trial'")
                 if r.data.tags.get("model_uri", winner.tags["model_uri"]) != winner.tags["model_uri"])
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    other = mlflow.register_model(loser.data.tags["model_uri"], "test-sweep",
                                  tags={"model_uri": loser.data.tags["model_uri"]})
    client.set_registered_model_alias("test-sweep", "champion", other.version)
    call(compare, [*base, "compare.repeats=0"])  # the report's winner differs from the alias
    moved = client.get_model_version_by_alias("test-sweep", "champion")
    assert moved.version not in (winner.version, other.version)
    assert moved.tags["model_uri"] == winner.tags["model_uri"]
    call(compare, [*base, "compare.repeats=0", "compare.register=false"])
    assert client.get_model_version_by_alias("test-sweep", "champion").version == moved.version


def repeat_ids(client, experiment_id) -> set[str]:
    return {r.info.run_id for r in client.search_runs([experiment_id], "tags.role = 'repeat'")}


@pytest.mark.slow
def test_folds_test_every_approach_on_each_fold_and_seed(swept):
    """compare.folds=2: one run per fold × seed (naive: per fold), nested and tagged `fold`; the
    last fold's runs are those of compare.folds=1 (same split); the rows, the comparison run's
    metrics and the champion use the mean over folds × seeds."""
    import statistics

    tmp, base = swept
    client, experiment_id = client_for(tmp)
    one = {r["approach"]: r for r in call(compare, [*base, "compare.repeats=1"])}
    folder = tmp / "reports" / "sweep"
    assert not (folder / "error_by_fold.png").exists()
    assert "by fold" not in (folder / "summary.md").read_text()
    before = repeat_ids(client, experiment_id)

    rows = call(compare, [*base, "compare.repeats=1", "compare.folds=2"])
    new = repeat_ids(client, experiment_id) - before
    assert len(new) == 4  # fold 0: reshape_head with seed 43, the deterministic ones; fold 1 reused
    new_runs = [client.get_run(i) for i in new]
    assert {r.data.tags["fold"] for r in new_runs} == {"0"}
    assert sorted(r.data.tags["mlflow.runName"] for r in new_runs) == [
        "linear-fold-0-seed-42", "naive-fold-0-seed-42", "reshape_head-fold-0-seed-43", "theta-fold-0-seed-42"]
    comparison = client.search_runs([experiment_id], "tags.role = 'comparison'",
                                    order_by=["attributes.start_time DESC"])[0]
    sweep_fingerprint = comparison.data.tags["split_fingerprint"]
    by = {r["approach"]: r for r in rows}
    for arch in ("reshape_head", "linear", "theta"):
        if arch == "reshape_head":
            runs = client.search_runs([experiment_id], f"tags.role = 'repeat' and tags.seed = '43' and "
                                                       f"tags.arch = '{arch}'")
            runs = [r for r in runs if r.data.tags["mlflow.parentRunId"] == comparison.info.run_id]
            assert sorted(r.data.tags["fold"] for r in runs) == ["0", "1"]
            first, last = (next(r for r in runs if r.data.tags["fold"] == k) for k in ("0", "1"))
        else:  # deterministic: one run on fold 0; the sweep's own run is the last fold
            [first] = client.search_runs([experiment_id], f"tags.role = 'repeat' and tags.arch = '{arch}'")
            last = client.get_run(by[arch]["run_id"])
            assert first.data.tags["seed"] == last.data.params["seed"] == "42"
        assert last.data.tags["split_fingerprint"] == sweep_fingerprint
        assert first.data.tags["split_fingerprint"] != sweep_fingerprint
        assert last.data.metrics["test_mse"] == one[arch]["test_mse_mean"]  # the folds=1 number
        mean = statistics.fmean([first.data.metrics["test_mse"], last.data.metrics["test_mse"]])
        assert by[arch]["test_mse_mean"] == pytest.approx(mean)
        assert by[arch]["test_mse_repeats"].endswith("(n=2)")
        assert comparison.data.metrics[f"test_mse_mean/{arch}"] == pytest.approx(mean)
        ratios = [r.data.metrics["test_mse"] / r.data.metrics["naive_test_mse"] for r in (first, last)]
        assert by[arch]["ratio_by_fold"] == " / ".join(f"{x:.3f}" for x in ratios)
    assert by["naive"]["ratio_by_fold"] == "1.000 / 1.000"
    assert sum(r["folds_won"] for r in rows) == 2
    assert comparison.data.metrics["folds_won/naive"] == by["naive"]["folds_won"]
    note = comparison.data.tags["mlflow.note.content"]
    leader = min(rows, key=lambda r: r["test_mse_mean"])
    spread = ("deterministic, one run per fold, mean ± std over 2 folds" if leader["deterministic"]
              else "mean ± std over 2 folds × 1 fresh seed")
    assert note.startswith(f"{leader['approach']}, ") and f"({spread})" in note
    assert "ranking is" in note and "MSE / naive by fold" in note
    summary = (folder / "summary.md").read_text()
    assert "MSE / naive by fold" in summary and "over 2 folds × 1 fresh seed " in summary
    # Each fold's runs saw their own windows: "every run below saw the same windows" was false.
    assert "(the sweep's windows, fold 1's; each fold's runs saw that fold's windows)" in summary
    assert "every run below saw the same windows" not in summary
    assert "ranking is" in summary and "selected on the last fold's validation block only" in summary
    # Every tag the sweep, the report and its fold runs wrote is one src/run_tags.py describes.
    assert tags_not_in_the_schema(client.search_runs([experiment_id], max_results=1000)) == set()
    assert "fold 0's are rows it selected on" in summary  # with 2 folds, the sweep's validation rows
    assert (folder / "error_by_fold.png").is_file() and "error_by_fold.png" in summary
    # The champion is the approach with the lowest mean over folds × seeds, tagged with its row
    # of this report (the alias moves only with the winner; the tags follow the latest report).
    champion = client.get_model_version_by_alias("test-sweep", "champion")
    assert champion.tags["approach"] == rows[0]["approach"] == min(rows, key=lambda r: r["test_mse_mean"])["approach"]
    assert champion.tags["test_mse"] == rows[0]["test_mse_repeats"]

    again = call(compare, [*base, "compare.repeats=1", "compare.folds=2"])  # every run reused
    assert repeat_ids(client, experiment_id) - before == new
    assert [r["test_mse_mean"] for r in again] == [r["test_mse_mean"] for r in rows]
    call(compare, [*base, "compare.repeats=1"])  # and folds=1 again: its numbers, no fold figure
    assert not (folder / "error_by_fold.png").exists()


@pytest.mark.slow
def test_too_few_rows_for_the_folds_is_one_line_before_anything_runs(swept):
    tmp, base = swept
    client, experiment_id = client_for(tmp)
    before = repeat_ids(client, experiment_id)
    comparisons = len(client.search_runs([experiment_id], "tags.role = 'comparison'"))
    with pytest.raises(UserError, match=r"compare.folds=5 needs at least \d+ rows .*; the data has 347"):
        call(compare, [*base, "compare.repeats=1", "compare.folds=5"])
    assert repeat_ids(client, experiment_id) == before
    assert len(client.search_runs([experiment_id], "tags.role = 'comparison'")) == comparisons


@pytest.mark.slow
def test_a_statistical_leader_is_named_and_the_best_servable_row_registered(swept):
    """A statistical baseline logs no MLflow model: when it leads, the registry gets the best
    other row, and the line says why; that champion loads and forecasts."""
    from src.data.model_inputs import prepare
    from src.serving.logged import load_forecaster
    from src.serving.registry import register_champion

    tmp, base = swept
    client, _ = client_for(tmp)
    rows = call(compare, [*base, "compare.repeats=0", "compare.register=false"])
    theta = next(r for r in rows if r["approach"] == "theta")
    theta["test_mse_mean"] = min(r["test_mse_mean"] for r in rows) / 2
    runs = {r["approach"]: pd.Series({f"tags.{k}": v for k, v in client.get_run(r["run_id"]).data.tags.items()})
            for r in rows}
    runner_up, third = sorted((r for r in rows if r is not theta), key=lambda r: r["test_mse_mean"])[:2]
    # The registered row's spread reaches the third row, not theta: the version's
    # within_1_std tag took the report's marks, which are against theta.
    runner_up["test_mse_std"] = third["test_mse_mean"] - runner_up["test_mse_mean"]
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    said = register_champion(rows, runs, "test-statistical", "fingerprint")
    assert said.startswith(f"champion: test-statistical version 1, {runner_up['approach']}")
    assert "theta has the lowest test MSE but is a statistical baseline, which logs no MLflow model" in said
    champion = client.get_model_version_by_alias("test-statistical", "champion")
    assert champion.tags["approach"] == runner_up["approach"]
    assert third["approach"] in champion.tags["within_1_std"].split(", ")
    data = call(lambda cfg: prepare(cfg.data), base)
    forecaster = load_forecaster("models:/test-statistical@champion", tmp / "champion")
    assert forecaster.forecast(data.test.X[:3]).shape == (3, data.horizon, data.n_series)


def verdict_rows(neural_mean: float, neural_std: float) -> list[dict]:
    rows = [{"approach": "reshape_head", "neural": True, "test_mse_mean": neural_mean, "test_mse_std": neural_std},
            {"approach": "ets", "statistical": True, "test_mse_mean": 1.0, "test_mse_std": 0.0, "deterministic": True},
            {"approach": "naive", "test_mse_mean": 2.0, "test_mse_std": 0.0, "deterministic": True}]
    return sorted(rows, key=lambda r: r["test_mse_mean"])


@pytest.mark.parametrize("neural_mean, neural_std, expected", [
    (0.9, 0.02, "the best LSTM layout, reshape_head (0.9 ± 0.02), beats the best baseline, ets (1 ± 0), "
                "by 10.0 % ± 2.0 % (beyond the spread over seeds)"),
    (1.05, 0.08, "the best LSTM layout, reshape_head (1.05 ± 0.08), loses to the best baseline, ets (1 ± 0), "
                 "by 5.0 % ± 8.0 % (within the spread over seeds)"),
])
def test_the_verdict_names_the_best_row_and_the_neural_against_baseline_gap(neural_mean, neural_std, expected):
    from src.report.verdict import sentence

    said = sentence(verdict_rows(neural_mean, neural_std), repeats=3)
    leader = ("reshape_head, an LSTM layout, has the lowest test MSE, 0.9 ± 0.02 (mean ± std over 3 fresh seeds)"
              if neural_mean < 1 else
              "ets, a statistical baseline, has the lowest test MSE, 1 ± 0 (deterministic, one run)")
    assert said.startswith(leader)
    assert expected in said
    assert "naive is " in said and "% worse" in said


def test_the_verdict_claims_no_spread_from_one_seed_and_no_result_missing_for_a_twin():
    """Before: with compare.repeats=0 or 1, a gap "beyond the spread over seeds" (a std of 0
    from one value); and a twin row (the same network, trained once) listed as having "no
    finished trial"."""
    from src.report.verdict import sentence

    rows = [*verdict_rows(0.9, 0.0), {"approach": "timedistributed-samples", "same_as": "reshape_head-samples"}]
    for repeats in (0, 1):
        said = sentence(rows, repeats=repeats)
        assert "by 10.0 % (one seed each: no spread measured)" in said and "beyond the spread" not in said
        assert "no finished trial" not in said
        assert "timedistributed-samples is the same network as reshape_head-samples" in said


def test_a_naive_forecast_without_error_gives_no_ratio_not_a_crash():
    """Every series flat over the test rows: naive's test MSE is 0, and the report died with
    ZeroDivisionError after training its repeats (one period, and per fold)."""
    import math

    import pandas as pd

    from src.compare import build_rows
    from src.report import backtest

    run = pd.Series({"tags.scaling": "window", "metrics.best_val_loss": 0.5, "metrics.test_mse": 0.2,
                     "metrics.test_mae": 0.3, "metrics.n_params": 10, "metrics.naive_test_mse": 0.0,
                     "run_id": "r", "params.arch.units": "[4]", "metrics.fit_seconds": 1.0})
    [row] = build_rows({"reshape_head": run}, {}, {})
    assert math.isnan(row["ratio_to_naive"])
    samples = [{"fold": k, "test_mse": 0.2, "naive_test_mse": naive, "run_id": "r"} for k, naive in ((0, 0.0), (1, 0.4))]
    rows = [{"approach": "reshape_head", "test_mse_mean": 0.2}]
    backtest.add_columns(rows, {"reshape_head": samples}, 2)
    assert rows[0]["ratio_by_fold"] == "- / 0.500" and rows[0]["ratio_to_naive"] == 1.0


def test_a_baseline_of_an_arch_studied_later_under_the_same_sweep_name_is_not_its_row():
    """An arch once in search.baselines and later in search.archs: the report showed the old
    baseline run (default widths, retrained as such) in place of its study's selected trial."""
    from src.report.runs import SweepRuns, best_trials

    runs = pd.DataFrame([
        {"run_id": "s", "tags.role": "study", "tags.approach": "reshape_head", "status": "FINISHED"},
        {"run_id": "t", "tags.role": "trial", "tags.approach": "reshape_head", "status": "FINISHED",
         "tags.trial_state": "COMPLETE", "tags.trial_number": "0", "metrics.best_val_loss": 0.5},
        {"run_id": "old", "tags.role": "baseline", "tags.approach": "reshape_head", "status": "FINISHED"},
        {"run_id": "n", "tags.role": "baseline", "tags.approach": "naive", "status": "FINISHED"},
        {"run_id": "f", "tags.role": "baseline", "tags.approach": "ets", "status": "FAILED"},
    ])
    sweep = SweepRuns("1", runs)
    assert list(sweep.baselines["run_id"]) == ["n"]
    assert best_trials(sweep)["reshape_head"]["run_id"] == "t"


def test_one_seed_logs_no_standard_deviation():
    """compare.repeats=1 logged test_mse_std/<approach> = 0 for a trained network: in the
    runs table that reads as no spread, which one seed cannot measure."""
    from src.report.verdict import approach_metrics

    rows = [{"approach": "seq2seq", "test_mse_mean": 1.1, "test_mse_std": 0.0, "samples": 1},
            {"approach": "naive", "test_mse_mean": 2.0, "test_mse_std": 0.0, "samples": 1, "deterministic": True},
            {"approach": "linear", "test_mse_mean": 1.0, "test_mse_std": 0.1, "samples": 3}]
    metrics = approach_metrics(rows)
    assert "test_mse_std/seq2seq" not in metrics and metrics["test_mse_mean/seq2seq"] == 1.1
    assert metrics["test_mse_std/naive"] == 0.0 and metrics["test_mse_std/linear"] == 0.1


@pytest.mark.slow
def test_the_report_draws_a_few_of_many_series_and_says_so(tmp_path):
    """compare's forecast figure drew a row per series: minutes for 100 (as src.train's did)."""
    import numpy as np

    from src.data.windows import Split
    from src.report.figures import forecasts

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 12, 100)), rng.normal(size=(6, 3, 100))
    split = Split(X=X, y=y, starts=np.arange(6))
    figure = forecasts(split, {"naive": np.repeat(X[:, -1:], 3, axis=1)}, [f"s{i}" for i in range(100)], 3)
    assert len(figure.axes) == 8 * 3
    assert figure.get_suptitle().endswith("(8 of 100 series drawn)")
    assert [ax.get_xlabel() for ax in figure.axes[-3:]] == ["steps from forecast origin"] * 3
    figure.savefig(tmp_path / "forecasts.png", dpi=60)


def test_error_bars_are_drawn_only_where_a_spread_was_measured():
    """One seed or a deterministic baseline has no spread: its bars were drawn with a cap at
    the mean, which reads as a spread of exactly zero."""
    import numpy as np

    from src.report.figures import error_by

    stats = {"reshape_head": {"test_mse/a": (1.0, 0.2), "test_mse/b": (2.0, 0.1)},  # three seeds
             "linear": {"test_mse/a": (0.5, 0.0), "test_mse/b": (0.7, 0.0)}}       # deterministic
    figure = error_by(stats, ["test_mse/a", "test_mse/b"], ["a", "b"], "Test MSE per series", "series", bars=True)
    ax = figure.axes[0]
    bars = {c.get_label(): [round(b.get_x() + b.get_width() / 2, 6) for b in c] for c in ax.containers
            if c.get_label() in stats}
    caps = [round(float(s[0][0]), 6) for c in ax.containers if getattr(c, "has_yerr", False)
            for s in c.lines[2][0].get_segments() if np.isfinite(s).all()]
    assert sorted(caps) == bars["reshape_head"] and not set(caps) & set(bars["linear"])


@pytest.mark.slow
def test_data_settings_other_than_the_sweeps_are_refused_by_name(swept, tmp_path):
    """Before, they were ignored: a report on the sweep's 200 windows for data.n_windows=300,
    exit 0. Each study's stacking and scaling are its own and not compared."""
    tmp, base = swept
    cfg = [*(a for a in base if not a.startswith("compare.report_dir")), f"compare.report_dir={tmp_path}/r",
           "compare.repeats=0", "compare.register=false"]
    with pytest.raises(UserError, match=r"^the data given here is not what sweep 'sweep' ran on \(data.n_windows=300 "
                                        r"here, 200 in the sweep; data.noise=0.5 here, 1.0 in the sweep\); the "
                                        r"report is on the sweep's data"):
        call(compare, [*cfg, "data.n_windows=300", "data.noise=0.5"])
    assert not (tmp_path / "r").exists()
    rows = call(compare, [*cfg, "data.scaling=global", "data.stacking=samples"])
    assert {r["approach"] for r in rows} == {"reshape_head", "linear", "naive", "theta"}
