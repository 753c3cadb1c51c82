"""What a finished sweep says: one row per approach, the parent runs' summaries and plots."""

import json
import time
from functools import partial

import optuna
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from src import run_tags, tables
from src.tuning import selection

COLUMNS = [
    ("approach", "approach", "{}"),
    ("scaling", "scaling", "{}"),
    ("best_val_loss", "best val loss", "{:.4f}"),
    ("test_mse", "test MSE, selected trial (one seed)", "{:.4g}"),
    ("test_mae", "test MAE, one seed", "{:.4g}"),
    ("ratio_to_naive", "MSE / naive, one seed", "{:.3f}"),
    ("n_params", "params", "{:,.0f}"),
    ("trials", "trials C/P/F", "{}"),
]

OBJECTIVE = "val_loss"  # what every study minimises: the trial's best validation loss
EPOCH_METRICS = ("loss", "val_loss")  # logged per epoch by src.one_run.EpochLogger


def row_from_run(approach: str, run, trials: str) -> dict:
    m = run.data.metrics
    return {"approach": approach, "scaling": run.data.tags.get(run_tags.SCALING),
            "best_val_loss": m.get("best_val_loss"),
            "test_mse": m.get("test_mse"), "test_mae": m.get("test_mae"),
            "ratio_to_naive": m.get("test_mse_ratio_to_naive"), "n_params": m.get("n_params"),
            "trials": trials, "run_id": run.info.run_id,
            "reproduce": run.data.tags.get(run_tags.REPRODUCE, "")}


def outcomes(study: optuna.Study) -> list[selection.Outcome]:
    return [selection.Outcome(t.number, t.state.name, t.value, t.user_attrs.get("mlflow_run_id"))
            for t in study.get_trials(deepcopy=False)]


def study_row(study: optuna.Study, arch: str, client: MlflowClient, n_trials: int) -> dict:
    """The study's row: its selected trial's run, among its first `n_trials` finished."""
    trials = outcomes(study)
    counts = selection.describe_counts(selection.counts(trials, n_trials))
    best = selection.selected(trials, n_trials)
    if best is None:
        return {"approach": arch, "trials": counts}
    row = row_from_run(arch, client.get_run(best.run_id), counts)
    row["best_params"] = study.get_trials(deepcopy=False)[best.number].params
    return row


def format_table(rows: list[dict]) -> str:
    return tables.format_table(rows, COLUMNS)


def log_study_summary(study: optuna.Study, row: dict, parent_run_id: str, table: str,
                      client: MlflowClient, n_trials: int, plots: bool) -> None:
    """Best value and params, trial counts, the sweep table and (`plots`) Optuna's plots, on
    the study's parent run."""
    counts = selection.counts(outcomes(study), n_trials)
    for state, n in counts.items():
        client.log_metric(parent_run_id, f"trials_{state}", n)
    client.log_metric(parent_run_id, "trials_seconds", trials_seconds(study))
    if "best_params" in row:
        copy_selected_metrics(client, row["run_id"], parent_run_id)
        for name, value in row["best_params"].items():
            client.set_tag(parent_run_id, f"{run_tags.BEST_PREFIX}{name}", str(value))
        client.set_tag(parent_run_id, run_tags.BEST_RUN_ID, row["run_id"])
        client.set_tag(parent_run_id, run_tags.BEST_REPRODUCE, row["reproduce"])
        client.log_text(parent_run_id, json.dumps(row["best_params"], indent=2), "best_params.json")
    client.log_text(parent_run_id, table + "\n", "sweep_summary.md")
    for name, figure in study_figures(study) if plots else ():
        client.log_figure(parent_run_id, figure, f"plots/{name}.png",
                          save_kwargs={"dpi": 100, "bbox_inches": "tight"})
        figure.clf()


def trials_seconds(study: optuna.Study) -> float:
    """What the study cost: the seconds of all its trials that ended, failed ones included."""
    return sum((t.datetime_complete - t.datetime_start).total_seconds()
               for t in study.get_trials(deepcopy=False)
               if t.datetime_complete is not None and t.datetime_start is not None)


def copy_selected_metrics(client: MlflowClient, trial_run_id: str, parent_run_id: str) -> None:
    """The selected trial's metrics on the study run under the same keys (test_mse,
    best_val_loss, n_params, ...), so one sorted column ranks studies, trials and baselines.
    Per-epoch curves stay on the trial; errors by horizon step are copied whole."""
    now = int(time.time() * 1000)
    metrics = []
    for key, value in client.get_run(trial_run_id).data.metrics.items():
        if key.endswith("_by_step"):
            metrics += [Metric(key, m.value, now, m.step) for m in client.get_metric_history(trial_run_id, key)]
        elif key not in EPOCH_METRICS:
            metrics.append(Metric(key, value, now, 0))
    client.log_batch(parent_run_id, metrics=metrics)


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
    value = {"target_name": OBJECTIVE}
    plots = [("optimization_history", partial(ovm.plot_optimization_history, **value))]
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):  # none in closed form
        plots.append(("intermediate_values", ovm.plot_intermediate_values))
    if complete:
        plots += [("slice", partial(ovm.plot_slice, **value)),
                  ("parallel_coordinate", partial(ovm.plot_parallel_coordinate, **value))]
    if len(complete) >= 3:
        plots.append(("param_importances", partial(ovm.plot_param_importances, **value)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the matplotlib backend is marked experimental
        for name, plot in plots:
            try:
                axes = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # e.g. importances when no parameter varied
            figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
            readable(figure, study.study_name, name)
            yield name, figure
            plt.close(figure)


def readable(figure, study_name: str, name: str) -> None:
    """Optuna's defaults squeeze a slice panel per parameter into one small figure, print
    overlapping log-scale tick labels and say "Objective Value": wider figures, plain ticks,
    the objective named, the study in the title. Saved with bbox_inches="tight", so no
    label is cut."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    panels = [ax for ax in figure.get_axes() if ax.get_label() != "<colorbar>"]
    width = {"slice": 3.6 * len(panels), "parallel_coordinate": 2.4 * len(panels[0].get_xticks())}
    figure.set_size_inches(max(9.0, width.get(name, 0.0)), 5.0)
    renamed = {"Objective Value": OBJECTIVE, "Intermediate Value": f"{OBJECTIVE} at each epoch",
               "Step": "epoch"}
    for ax in panels:
        ax.set_ylabel(renamed.get(ax.get_ylabel(), ax.get_ylabel()))
        ax.set_xlabel(renamed.get(ax.get_xlabel(), ax.get_xlabel()))
        if ax.get_xscale() == "log":
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
    suptitle = figure.get_suptitle()
    title = suptitle or next((t for t in (panels[0].get_title(loc=loc) for loc in ("center", "left")) if t), "")
    figure.suptitle(f"{study_name}: {title}")
    if not suptitle:
        for loc in ("center", "left"):
            panels[0].set_title("", loc=loc)
