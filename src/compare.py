"""`make compare`: a report on a finished sweep, as files and as an MLflow run.

    python -m src.compare                      # the sweep named by search.name ("sweep")
    python -m src.compare experiment=sweep_quick compare.repeats=2
    python -m src.compare compare.folds=3      # and on two earlier test periods

Reads the sweep's runs with mlflow.search_runs, refuses runs that saw different windows,
retrains each approach's best configuration with `compare.repeats` fresh seeds (on each of
`compare.folds` rolling-origin folds), and writes
<compare.report_dir>/<search.name>/: summary.md and summary.csv (one row per approach and
baseline) and four PNG figures, all logged to a `comparison` run.
"""

import logging
import statistics
import tempfile
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from src import evaluation, run_tags, services, tables
from src.report import backtest, page, verdict
from src.config import UserError, validate
from src.tuning import selection

log = logging.getLogger(__name__)

COLUMNS = [
    ("approach", "approach", "{}"),
    ("notes", "notes", "{}"),
    ("scaling", "scaling", "{}"),
    ("best_val_loss", "best val loss", "{:.4f}"),
    ("test_mse_best", "test MSE (best trial)", "{:.4g}"),
    ("test_mse_repeats", "test MSE, mean ± std", "{}"),
    ("test_mae_repeats", "test MAE, mean ± std", "{}"),
    ("ratio_to_naive", "MSE / naive", "{:.3f}"),
    ("n_params", "params", "{:,.0f}"),
    ("epochs", "epochs", "{:.0f}"),
    ("seconds_per_epoch", "s / epoch", "{:.3f}"),
    ("predict_ms_per_window", "ms / window", "{:.3f}"),
    ("train_seconds", "s / training", "{:.1f}"),
    ("search_seconds", "search s", "{:.0f}"),
    ("trials", "trials C/P/F", "{}"),
]
FIGURES = {"loss_vs_params", "error_by_step", "error_by_series", "error_by_fold", "forecasts"}
# With compare.folds > 1, after "MSE / naive".
FOLD_COLUMNS = [("ratio_by_fold", "MSE / naive by fold", "{}"), ("folds_won", "folds won", "{:.0f}")]


def columns(folds: int) -> list[tuple[str, str, str]]:
    if folds == 1:
        return COLUMNS
    at = [key for key, _, _ in COLUMNS].index("ratio_to_naive") + 1
    return COLUMNS[:at] + FOLD_COLUMNS + COLUMNS[at:]


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def build_rows(best: dict[str, pd.Series], counts: dict, repeats: dict[str, list[dict]],
               unfinished: list[str] = (), same: dict[str, str] | None = None) -> list[dict]:
    """One row per approach with a finished trial or baseline run, lowest mean test MSE
    first, then one per approach without (it keeps its row, saying so), then one per
    approach that is the same network as another (trained once, as that one)."""
    rows = []
    for arch, run in best.items():
        row = {"approach": arch, "scaling": run.get("tags.scaling"),
               "best_val_loss": run["metrics.best_val_loss"], "test_mse_best": run["metrics.test_mse"],
               "n_params": run["metrics.n_params"], "epochs": run.get("metrics.epochs_trained"),
               "seconds_per_epoch": run.get("metrics.seconds_per_epoch"),
               "predict_ms_per_window": 1000 * run.get("metrics.predict_seconds_per_window", float("nan")),
               "naive_test_mse": run["metrics.naive_test_mse"], "run_id": run["run_id"],
               "reproduce": run.get("tags.reproduce", ""),
               # an LSTM layout (its config has arch.units), or a baseline of any kind
               "neural": isinstance(run.get("params.arch.units"), str),
               "statistical": run.get("tags.kind") == "statistical",
               "deterministic": run.get("tags.deterministic") == "true"}  # run once, not per seed
        c = counts.get(arch)
        row["trials"] = selection.describe_counts(c) if c else "baseline"
        row["finished_trials"] = c["complete"] + c["pruned"] if c else None
        samples = repeats.get(arch) or [{"test_mse": run["metrics.test_mse"], "test_mae": run["metrics.test_mae"]}]
        row["samples"] = len(samples)
        for metric in ("test_mse", "test_mae"):
            mean, std = _mean_std([s[metric] for s in samples])
            row[f"{metric}_mean"], row[f"{metric}_std"] = mean, std
            row[f"{metric}_repeats"] = f"{mean:.4g} ± {std:.2g} (n={len(samples)})"
        row["ratio_to_naive"] = evaluation.ratio(row["test_mse_mean"], row["naive_test_mse"])
        fits = [s["fit_seconds"] for s in samples if "fit_seconds" in s] or [run.get("metrics.fit_seconds")]
        row["train_seconds"] = statistics.fmean(fits) if None not in fits else None
        rows.append(row)
    _mark(rows)
    rows.sort(key=lambda r: r["test_mse_mean"])
    for arch in unfinished:
        c = counts.get(arch, {"complete": 0, "pruned": 0, "fail": 0, "extra": 0})
        rows.append({"approach": arch, "trials": selection.describe_counts(c),
                     "finished_trials": c["complete"] + c["pruned"], "notes": "no finished trial",
                     "reproduce": ""})
    for twin, trained in (same or {}).items():
        rows.append({"approach": twin, "trials": f"= {trained}", "same_as": trained, "finished_trials": None, "reproduce": "",
                     "notes": f"the same network as {trained} on this data: trained once, as {trained}"})
    return rows


def _mark(rows: list[dict]) -> None:
    """Notes: the lowest mean test MSE, those within one standard deviation of it (the
    larger of the two deviations), and studies with fewer finished trials than the others."""
    if not rows:
        return
    leader = min(rows, key=lambda r: r["test_mse_mean"])
    most = max((r["finished_trials"] for r in rows if r["finished_trials"] is not None), default=None)
    for row in rows:
        notes = []
        if row is leader:
            notes.append("lowest test MSE")
        elif verdict.within_one_std(row, leader):
            notes.append("within 1 std of lowest")
        if most is not None and row["finished_trials"] is not None and row["finished_trials"] < most:
            notes.append(f"fewer trials ({row['finished_trials']} of {most})")
        row["notes"] = "; ".join(notes)


def per_key_stats(best: dict[str, pd.Series], repeats: dict[str, list[dict]], prefix: str) -> dict:
    """approach -> {metric key: (mean, std)} for keys starting with `prefix`."""
    stats = {}
    for arch, run in best.items():
        samples = repeats.get(arch) or [{k[8:]: v for k, v in run.items()
                                         if isinstance(k, str) and k.startswith("metrics.")}]
        keys = sorted({k for s in samples for k in s if k.startswith(prefix)})
        stats[arch] = {k: _mean_std([s[k] for s in samples if k in s]) for k in keys}
    return stats


def step_stats(best: dict[str, pd.Series], repeats: dict[str, list[dict]],
               key: str = "test_mse_by_step") -> dict[str, dict[int, tuple[float, float]]]:
    """approach -> {horizon step: (mean, std)} over its repeats (else its selected run),
    from each run's history of `key`, logged with step = h."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    stats = {}
    for arch, run in best.items():
        by_step: dict[int, list[float]] = {}
        for run_id in [s["run_id"] for s in repeats.get(arch, [])] or [run["run_id"]]:
            for point in client.get_metric_history(run_id, key):
                by_step.setdefault(point.step, []).append(point.value)
        stats[arch] = {h: _mean_std(values) for h, values in sorted(by_step.items())}
    return stats


def best_forecasts(best: dict[str, pd.Series], fingerprint: str):
    """Each approach's best model (its run's MLflow model) on the test windows."""
    from src.report.runs import run_config
    from src.data.model_inputs import prepare
    from src.serving.logged import load_forecaster

    predictions, data = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for arch, run in best.items():
            uri = run.get(f"tags.{run_tags.MODEL_URI}")
            if not isinstance(uri, str):
                why = ("a statistical baseline logs none" if run.get("tags.kind") == "statistical"
                       else "logged with tracking.log_model=false")
                log.warning("%s: run %s has no MLflow model (%s); left out of forecasts.png",
                            arch, run["run_id"], why)
                continue
            run_data = prepare(run_config(run["run_id"]).data)
            if run_data.fingerprint != fingerprint:
                raise UserError(f"{arch}: its config no longer gives the windows it was trained on")
            predictions[arch] = load_forecaster(uri, Path(tmp) / arch).forecast(run_data.test.X)
            data = run_data
    return data, predictions


def fold_lines(fold_data: list, folds: int) -> str:
    """What the folds were: each one's test rows and fingerprint; selection on the last, and
    which rows of the earlier folds' tests the sweep had seen."""
    parts = [f"fold {k} tests rows {backtest.test_rows(d)} (fingerprint `{d.fingerprint}`)"
             for k, d in enumerate(fold_data)]
    sweep = fold_data[-1]
    selected_from = int(sweep.val.starts[0])
    seen = [f"fold {k}'s are rows it {'selected' if backtest.last_row(d.test, d) >= selected_from else 'trained'} on"
            for k, d in enumerate(fold_data[:-1])]
    return (f"Rolling-origin backtest over {folds} folds: " + "; ".join(parts) + ". Each fold trains "
            f"on every row before its validation block, validates on the block before its test rows "
            f"(early stopping only) and fits its scaler on its training rows. The configurations were "
            f"selected on the last fold's validation block only (the sweep's split, rows "
            f"{selected_from}-{backtest.last_row(sweep.val, sweep)}), by trials trained on every row "
            f"before it, so the sweep had seen the earlier folds' test rows: " + "; ".join(seen) + ". "
            f"The tuned approaches' sizes and learning rates were chosen knowing those periods, the "
            f"baselines' were not: read the earlier folds for whether the ranking holds across periods; "
            f"only the last fold is held out from every choice. The test MSE (best trial) column is "
            f"the sweep's split.")


def write_report(folder: Path, rows: list[dict], figures: dict, missing: list[str],
                 fingerprint: str, cfg: DictConfig, folds_said: list[str] = ()) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    folds = cfg.compare.folds
    table = tables.format_table(rows, columns(folds))
    csv_columns = ["approach", "scaling", "best_val_loss", "test_mse_best", "test_mse_mean", "test_mse_std",
                   "test_mae_mean", "test_mae_std", "ratio_to_naive",
                   *(["ratio_by_fold", "folds_won"] if folds > 1 else []), "n_params", "epochs",
                   "seconds_per_epoch", "predict_ms_per_window", "train_seconds", "search_seconds", "trials",
                   "notes", "run_id", "reproduce"]
    pd.DataFrame(rows).reindex(columns=csv_columns).to_csv(folder / "summary.csv", index=False)
    for name in FIGURES - set(figures):  # an earlier report's, e.g. error_by_fold of compare.folds=3
        (folder / f"{name}.png").unlink(missing_ok=True)
    for name, figure in figures.items():
        figure.savefig(folder / f"{name}.png", dpi=110)
    seeds = verdict.fresh_seeds(cfg.compare.repeats)
    over = seeds if folds == 1 else f"{folds} folds × {seeds}"
    per_fold = ("" if folds == 1 else " (over the same folds); MSE / naive by fold: the mean over seeds in "
                "each fold, oldest first; folds won: folds where its mean test MSE is the lowest")
    measured = (f"mean ± std over {over} of each approach's best configuration (the selected "
                f"trial itself left out; a deterministic baseline has no seed)")
    if cfg.compare.repeats == 0:
        measured = "each approach's selected trial, one seed (compare.repeats=0: no spread over seeds)"
    elif cfg.compare.repeats == 1 and folds == 1:
        measured += " (compare.repeats=1: one seed, so no spread over seeds)"
    windows = ("every run below saw the same windows" if folds == 1 else
               f"the sweep's windows, fold {folds - 1}'s; each fold's runs saw that fold's windows")
    intro = (f"Experiment `{cfg.tracking.experiment}`, split fingerprint `{fingerprint}` ({windows}). "
             f"Test MSE and MAE are in original units; {measured}. "
             f"MSE / naive uses that mean{per_fold}. s / training: "
             f"seconds to train one model of that configuration; search s: all its trials' seconds.")
    statistical = [r["approach"] for r in rows if r.get("statistical")]
    if statistical:
        intro += (f" {', '.join(statistical)}: statistical baselines, fitted on the training rows "
                  f"(deterministic: no seeds) and forecasting each window from the whole history up "
                  f"to its last input step, not from its last input_steps rows as the others do; "
                  f"they log no MLflow model, so they are not registered.")
    title = f"Comparison: sweep `{cfg.search.name}`"
    said = verdict.sentence(rows, cfg.compare.repeats, folds)
    (folder / "summary.html").write_text(page.summary_html(
        title, [said, intro, *folds_said], *tables.cells(rows, columns(folds)),
        [folder / f"{name}.png" for name in figures]))
    lines = [f"# {title}", "", said, "", intro, ""]
    for paragraph in folds_said:
        lines += [paragraph, ""]
    lines += [table, ""]
    if missing:
        lines += ["Runs missing a metric (not in the table):", ""] + [f"- {m}" for m in missing] + [""]
    lines += ["Reproduce each row with:", ""] + [f"- {r['approach']}: `{r['reproduce']}`" for r in rows
                                                 if r.get("reproduce")] + [""]
    lines += [f"![{name}]({name}.png)" for name in figures]
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    return table


def check_data_is_the_sweeps(cfg: DictConfig, best: dict[str, pd.Series], fingerprint: str) -> None:
    """The report is on the windows the sweep ran on. Data settings given here that make
    other windows were ignored (a report on 200 windows for data.n_windows=300): UserError
    naming each setting that differs from the sweep's."""
    from src.data.model_inputs import prepare
    from src.report.runs import run_config
    from src.tracking import flatten

    if not best or prepare(cfg.data).fingerprint == fingerprint:
        return
    per_approach = ("data.stacking", "data.scaling")  # each study's own; the windows are the same
    given = flatten(cfg, only=("data",))
    swept = flatten(run_config(next(iter(best.values()))["run_id"]), only=("data",))
    keys = [key for key in sorted(given.keys() | swept.keys())
            if key not in per_approach and given.get(key) != swept.get(key)]
    # data.source.* repeats data.* through interpolations: named only where nothing else differs
    keys = [key for key in keys if not key.startswith("data.source.")] or keys
    differ = [f"{key}={given.get(key)} here, {swept.get(key)} in the sweep" for key in keys]
    raise UserError(f"the data given here is not what sweep '{cfg.search.name}' ran on ("
                    f"{'; '.join(differ) or 'the same settings, other values: has the file changed?'}); "
                    f"the report is on the sweep's data: give its data settings, or sweep this data "
                    f"under another search.name")


def compare(cfg: DictConfig) -> list[dict]:
    """Build the report; returns its rows."""
    from src import tracking
    from src.report import figures as fig
    from src.report import runs as sweep_runs
    from src.report.repeats import prepare_folds, run_repeats

    validate(cfg)
    if cfg.compare.repeats < 0:
        raise UserError(f"compare.repeats must be 0 or more, got {cfg.compare.repeats}")
    services.check_folder(Path(cfg.compare.report_dir) / cfg.search.name, "compare.report_dir")
    if cfg.compare.register:
        from src.serving.registry import check_name, registered_name

        check_name(registered_name(cfg.tracking.experiment, cfg.search.name))
    sweep = sweep_runs.load_sweep_runs(cfg.tracking, cfg.search.name)
    fingerprint = sweep_runs.check_one_split(sweep)
    missing = sweep_runs.missing_metrics(sweep)
    for line in missing:
        log.warning("missing metrics: %s", line)
    best = sweep_runs.best_trials(sweep)
    for _, run in sweep.baselines.sort_values("start_time").iterrows():
        best[run["tags.approach"]] = run  # the latest finished run of each baseline
    best = {arch: run for arch, run in best.items()
            if all(pd.notna(run.get(f"metrics.{m}")) for m in sweep_runs.REQUIRED_METRICS)}
    check_data_is_the_sweeps(cfg, best, fingerprint)
    unfinished = [arch for arch in sweep_runs.approaches(sweep) if arch not in best]
    for arch in unfinished:
        log.warning("%s: no finished trial with every metric in sweep '%s'; its row says so",
                    arch, cfg.search.name)
    folds, repeats, fold_data = cfg.compare.folds, {}, {}
    if cfg.compare.repeats:
        fold_data = prepare_folds(best, folds)
        for arch, data in fold_data.items():
            if data[-1].fingerprint != fingerprint:
                raise UserError(f"{arch}: its config no longer gives the windows it was trained on")
        repeats = run_repeats(best, cfg, sweep.experiment_id, fold_data)
    rows = build_rows(best, sweep_runs.trial_counts(sweep), repeats, unfinished, sweep_runs.same_networks(sweep))
    folds_said = []
    if folds > 1 and repeats:  # none where no approach has a finished run
        backtest.add_columns(rows, repeats, folds)
        folds_said = [backtest.stability_note(repeats, folds),
                      fold_lines(next(iter(fold_data.values())), folds)]
    search_seconds = sweep_runs.search_seconds(sweep, best)
    for row in rows:
        row["search_seconds"] = search_seconds.get(row["approach"])

    steps = step_stats(best, repeats)
    series = per_key_stats(best, repeats, "test_mse/")
    step_keys = sorted({k for s in steps.values() for k in s})
    series_keys = sorted({k for s in series.values() for k in s})
    data, predictions = best_forecasts(best, fingerprint)
    figures = {
        "loss_vs_params": fig.loss_vs_params(sweep_runs.finished_trials(sweep), sweep.baselines, list(best)),
        "error_by_step": fig.error_by(steps, step_keys, [str(k) for k in step_keys],
                                      "Test MSE per horizon step", "steps ahead", bars=False),
        "error_by_series": fig.error_by(series, series_keys, [k.split("/", 1)[1] for k in series_keys],
                                        "Test MSE per series", "series", bars=True),
    }
    if folds_said:
        labels = [f"{k}: rows {backtest.test_rows(d)}" for k, d in enumerate(next(iter(fold_data.values())))]
        figures["error_by_fold"] = fig.error_by_fold(
            {arch: backtest.ratios(samples) for arch, samples in repeats.items()}, labels)
    if predictions:
        figures["forecasts"] = fig.forecasts(data.test, predictions, data.series, cfg.compare.forecast_windows)
    folder = Path(cfg.compare.report_dir) / cfg.search.name
    table = write_report(folder, rows, figures, missing, fingerprint, cfg, folds_said)
    with tracking.run(sweep.experiment_id, run_name=f"{cfg.search.name}-comparison",
                      tags={run_tags.ROLE: run_tags.COMPARISON, run_tags.SWEEP: cfg.search.name,
                            run_tags.SPLIT_FINGERPRINT: fingerprint}) as active:
        import mlflow

        mlflow.log_artifacts(str(folder))
        repeat_ids = [s["run_id"] for arch, samples in repeats.items() for s in samples
                      if s["run_id"] != best[arch]["run_id"]]
        said = verdict.record(mlflow.MlflowClient(), active.info.run_id, rows, cfg.compare.repeats,
                              repeat_ids, folds, folds_said[0] if folds_said else "")
    print(table)
    print(said)
    for paragraph in folds_said[:1]:
        print(paragraph)
    print(f"report: {folder}/summary.md (also in MLflow, run {cfg.search.name}-comparison)")
    if cfg.compare.register:
        from src.serving.registry import register_champion, registered_name

        print(register_champion(rows, best, registered_name(cfg.tracking.experiment, cfg.search.name),
                                fingerprint))
    return rows


def main() -> None:
    from src.cli import run_app

    run_app(compare, config_name="config")


if __name__ == "__main__":
    main()
