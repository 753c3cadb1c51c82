"""The comparison run's answer where `mlflow ui` shows it: one metric per approach and
statistic, a one-sentence verdict as the run's description, and the repeats nested under it."""

import math
import time

from src import tables

# row key -> metric name on the comparison run, as `<name>/<approach>`
METRICS = {
    "test_mse_mean": "test_mse_mean", "test_mse_std": "test_mse_std",
    "test_mae_mean": "test_mae_mean", "test_mae_std": "test_mae_std",
    "ratio_to_naive": "ratio_to_naive", "best_val_loss": "best_val_loss",
    "n_params": "n_params", "train_seconds": "train_seconds", "search_seconds": "search_seconds",
    "folds_won": "folds_won",  # compare.folds > 1 only
}


def approach_metrics(rows: list[dict]) -> dict[str, float]:
    """`test_mse_mean/linear`, `n_params/seq2seq`, ...: one sorted column per statistic in the
    runs table and one bar per approach in the charts. Missing values are left out, and so
    is the std of an approach trained with one seed."""
    out = {}
    for row in rows:
        for key, name in METRICS.items():
            if key.endswith("_std") and row.get("samples", 2) < 2 and not row.get("deterministic"):
                continue  # one seed measures no spread: a 0 here read as "none"
            value = row.get(key)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                out[f"{name}/{row['approach']}"] = float(value)
    return out


def fresh_seeds(repeats: int) -> str:
    return f"{repeats} fresh seed{'s' if repeats != 1 else ''}"


def within_one_std(row: dict, of: dict) -> bool:
    """Whether `row`'s mean test MSE lies within one standard deviation of `of`'s (the
    larger of the two deviations)."""
    return abs(row["test_mse_mean"] - of["test_mse_mean"]) <= max(row["test_mse_std"], of["test_mse_std"])


def sentence(rows: list[dict], repeats: int, folds: int = 1) -> str:
    """'linear, a baseline, has the lowest test MSE, 1.52 ± 0.043 (mean ± std over 3 fresh
    seeds); the best LSTM layout, reshape_head (1.6 ± 0.048), loses to the best baseline,
    linear, by 5.5 % ± 4.2 % (...); seq2seq is 8.2 % worse; ...': the best row whatever its
    kind, then neural against baseline, then every other row; rows ranked by mean test MSE,
    approaches without a result named last."""
    ranked = sorted((r for r in rows if r.get("test_mse_mean") is not None), key=lambda r: r["test_mse_mean"])
    if not ranked:
        return "No approach has a finished run to compare."
    best = ranked[0]
    seeds = fresh_seeds(repeats)
    over = f"mean ± std over {seeds}" if repeats else "selected trial, one seed"
    if folds > 1:
        over = f"mean ± std over {folds} folds × {seeds}"
    if repeats and best.get("deterministic"):  # not repeated: the seed changes nothing
        over = "deterministic, one run" + (f" per fold, mean ± std over {folds} folds" if folds > 1 else "")
    parts = [f"{best['approach']}, {kind(best)}, has the lowest test MSE, {best['test_mse_mean']:.3g} ± "
             f"{best['test_mse_std']:.2g} ({over})"]
    gap = neural_against_baseline(ranked, folds, repeats)
    if gap:
        parts.append(gap)
    for row in ranked[1:]:
        worse = 100 * (row["test_mse_mean"] / best["test_mse_mean"] - 1)
        parts.append(f"{row['approach']} is {worse:.1f} % worse"
                     + (" (within 1 std)" if "within 1 std" in row.get("notes", "") else ""))
    parts += [f"{r['approach']} is the same network as {r['same_as']}" for r in rows if r.get("same_as")]
    missing = [r["approach"] for r in rows if r.get("test_mse_mean") is None and not r.get("same_as")]
    if missing:
        parts.append(f"no finished trial: {', '.join(missing)}")
    return "; ".join(parts) + "."


def kind(row: dict) -> str:
    if row.get("neural"):
        return "an LSTM layout"
    return "a statistical baseline" if row.get("statistical") else "a baseline"


def neural_against_baseline(ranked: list[dict], folds: int, repeats: int = 2) -> str:
    """How far the best LSTM layout is above or below the best baseline, in % of the
    baseline's mean test MSE, ± the spread of that gap (the two stds combined, as % of the
    same); without a spread where one seed each was measured; '' when either kind has no row."""
    neural = next((r for r in ranked if r.get("neural")), None)
    baseline = next((r for r in ranked if not r.get("neural")), None)
    if neural is None or baseline is None:
        return ""
    reference = baseline["test_mse_mean"]
    gap = 100 * (neural["test_mse_mean"] / reference - 1)
    spread = 100 * math.hypot(neural["test_mse_std"], baseline["test_mse_std"]) / reference
    verb = "beats" if gap < 0 else "loses to"
    if folds == 1 and repeats < 2:  # a std of 0 from one value measures nothing
        return (f"the best LSTM layout, {neural['approach']} ({neural['test_mse_mean']:.3g}), {verb} the "
                f"best baseline, {baseline['approach']} ({reference:.3g}), by {abs(gap):.1f} % (one "
                f"seed each: no spread measured)")
    over = "seeds" if folds == 1 else "folds × seeds"
    size = "within" if abs(gap) <= spread else "beyond"
    return (f"the best LSTM layout, {neural['approach']} ({neural['test_mse_mean']:.3g} ± "
            f"{neural['test_mse_std']:.2g}), {verb} the best baseline, {baseline['approach']} "
            f"({reference:.3g} ± {baseline['test_mse_std']:.2g}), by {abs(gap):.1f} % ± {spread:.1f} % "
            f"({size} the spread over {over})")


# The description's table: what answers "which approach, at what cost", narrow enough for
# the run page (summary.md has every column).
NOTE_COLUMNS = [
    ("approach", "approach", "{}"),
    ("test_mse_repeats", "test MSE, mean ± std", "{}"),
    ("ratio_to_naive", "MSE / naive", "{:.3f}"),
    ("n_params", "params", "{:,.0f}"),
    ("train_seconds", "s / training", "{:.1f}"),
    ("search_seconds", "search s", "{:.0f}"),
]


def record(client, run_id: str, rows: list[dict], repeats: int,
           repeat_run_ids: list[str], folds: int = 1, stability: str = "") -> str:
    """Metrics, description (verdict, then a short table) and nesting on the comparison
    run (client: an MlflowClient); returns the verdict. Repeats reused from an earlier report move under this run."""
    from mlflow.entities import Metric
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE

    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in approach_metrics(rows).items()])
    verdict = sentence(rows, repeats, folds)
    columns = NOTE_COLUMNS if folds == 1 else [*NOTE_COLUMNS[:3], ("ratio_by_fold", "MSE / naive by fold", "{}"),
                                               ("folds_won", "folds won", "{:.0f}"), *NOTE_COLUMNS[3:]]
    said = f"{verdict}\n\n{stability}" if stability else verdict
    note = f"{said}\n\n{tables.format_table(rows, columns)}\n\nEvery column and figure: summary.html in Artifacts."
    client.set_tag(run_id, MLFLOW_RUN_NOTE, note)
    for repeat_id in repeat_run_ids:
        client.set_tag(repeat_id, MLFLOW_PARENT_RUN_ID, run_id)
    return verdict
