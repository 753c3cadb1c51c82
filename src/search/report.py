"""What a finished sweep says: one row per approach, the parent runs' summaries and plots."""

import json

import optuna
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from src import tables

COLUMNS = [
    ("approach", "approach", "{}"),
    ("scaling", "scaling", "{}"),
    ("best_val_loss", "best val loss", "{:.4f}"),
    ("test_mse", "test MSE", "{:.4g}"),
    ("test_mae", "test MAE", "{:.4g}"),
    ("ratio_to_naive", "MSE / naive", "{:.3f}"),
    ("n_params", "params", "{:,.0f}"),
    ("trials", "trials C/P/F", "{}"),
]


def row_from_run(approach: str, run, trials: str) -> dict:
    m = run.data.metrics
    return {"approach": approach, "scaling": run.data.tags.get("scaling"),
            "best_val_loss": m.get("best_val_loss"),
            "test_mse": m.get("test_mse"), "test_mae": m.get("test_mae"),
            "ratio_to_naive": m.get("test_mse_ratio_to_naive"), "n_params": m.get("n_params"),
            "trials": trials, "run_id": run.info.run_id,
            "reproduce": run.data.tags.get("reproduce", "")}


def trial_counts(study: optuna.Study) -> dict[str, int]:
    return {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
            for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}


def study_row(study: optuna.Study, arch: str, client: MlflowClient) -> dict:
    counts = trial_counts(study)
    trials = f"{counts['complete']}/{counts['pruned']}/{counts['fail']}"
    if counts["complete"] == 0:
        return {"approach": arch, "trials": trials}
    best = study.best_trial
    row = row_from_run(arch, client.get_run(best.user_attrs["mlflow_run_id"]), trials)
    row["best_params"] = best.params
    return row


def format_table(rows: list[dict]) -> str:
    return tables.format_table(rows, COLUMNS)


def log_study_summary(study: optuna.Study, row: dict, parent_run_id: str, table: str,
                      client: MlflowClient) -> None:
    """Best value and params, trial counts, the sweep table and Optuna's plots, on the
    study's parent run."""
    counts = trial_counts(study)
    for state, n in counts.items():
        client.log_metric(parent_run_id, f"trials_{state}", n)
    if "best_params" in row:
        client.log_metric(parent_run_id, "best_val_loss", row["best_val_loss"])
        for key in ("test_mse", "test_mae", "ratio_to_naive", "n_params"):
            if row.get(key) is not None:
                client.log_metric(parent_run_id, f"best_{key}", row[key])
        for name, value in row["best_params"].items():
            client.set_tag(parent_run_id, f"best.{name}", str(value))
        client.set_tag(parent_run_id, "best_run_id", row["run_id"])
        client.set_tag(parent_run_id, "best_reproduce", row["reproduce"])
        client.log_text(parent_run_id, json.dumps(row["best_params"], indent=2), "best_params.json")
    client.log_text(parent_run_id, table + "\n", "sweep_summary.md")
    for name, figure in study_figures(study):
        client.log_figure(parent_run_id, figure, f"plots/{name}.png")
        figure.clf()


def study_figures(study: optuna.Study):
    """Optuna's matplotlib plots that the study has enough trials for."""
    import logging
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib.category").setLevel(logging.WARNING)  # categorical params
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    plots = [("optimization_history", ovm.plot_optimization_history),
             ("intermediate_values", ovm.plot_intermediate_values)]
    if complete:
        plots += [("slice", ovm.plot_slice), ("parallel_coordinate", ovm.plot_parallel_coordinate)]
    if len(complete) >= 3:
        plots.append(("param_importances", ovm.plot_param_importances))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the matplotlib backend is marked experimental
        for name, plot in plots:
            try:
                axes = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # e.g. importances when no parameter varied
            figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
            yield name, figure
            plt.close(figure)
