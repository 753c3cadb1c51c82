"""The report's view of the rolling-origin folds (compare.folds > 1): per approach, its
ratio to naive in each fold and the folds it wins, and whether the ranking holds in every
fold. Samples are the repeats' metrics, each with its `fold`."""

import math
import statistics

from src.evaluation import ratio


def test_rows(data) -> str:
    """'465-546': the first and last row a fold's test windows cover (data: WindowedData)."""
    return f"{data.test.starts[0]}-{last_row(data.test, data)}"


def last_row(split, data) -> int:
    """The last row a split's windows cover."""
    return int(split.starts[-1] + data.input_steps + data.horizon - 1)


def fold_means(samples: list[dict], key: str) -> dict[int, float]:
    """fold -> mean of `key` over that fold's seeds."""
    by: dict[int, list[float]] = {}
    for s in samples:
        by.setdefault(s["fold"], []).append(s[key])
    return {fold: statistics.fmean(values) for fold, values in sorted(by.items())}


def ratios(samples: list[dict]) -> dict[int, tuple[float, float]]:
    """fold -> (mean, std) over its seeds of test MSE / naive test MSE (the fold's naive)."""
    by: dict[int, list[float]] = {}
    for s in samples:
        by.setdefault(s["fold"], []).append(ratio(s["test_mse"], s["naive_test_mse"]))
    return {fold: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
            for fold, v in sorted(by.items())}


def rankings(repeats: dict[str, list[dict]], folds: int) -> list[list[str]]:
    """Per fold, the approaches from lowest to highest mean test MSE."""
    means = {arch: fold_means(samples, "test_mse") for arch, samples in repeats.items()}
    return [sorted((a for a in means if fold in means[a]), key=lambda a: means[a][fold])
            for fold in range(folds)]


def add_columns(rows: list[dict], repeats: dict[str, list[dict]], folds: int) -> None:
    """`ratio_by_fold` ('0.52 / 0.61 / 0.48', oldest fold first), `folds_won`, and the ratio to
    naive over every fold: mean test MSE / mean naive test MSE over the same folds × seeds."""
    winners = [order[0] for order in rankings(repeats, folds) if order]
    for row in rows:
        samples = repeats.get(row["approach"])
        if not samples:
            continue
        row["ratio_by_fold"] = " / ".join("-" if math.isnan(m) else f"{m:.3f}" for m, _ in ratios(samples).values())
        row["folds_won"] = winners.count(row["approach"])
        row["ratio_to_naive"] = ratio(row["test_mse_mean"], statistics.fmean(s["naive_test_mse"] for s in samples))


def stability_note(repeats: dict[str, list[dict]], folds: int) -> str:
    """One sentence: the ranking holds in every fold, or how it differs."""
    orders = rankings(repeats, folds)
    if all(order == orders[-1] for order in orders):
        return f"The ranking is the same in each of the {folds} folds: {' < '.join(orders[-1])}."
    listed = "; ".join(f"fold {k}: {' < '.join(order)}" for k, order in enumerate(orders))
    return (f"The ranking is not stable across folds (lowest test MSE first): {listed}. "
            f"Gaps that change sign between periods are not a reliable difference.")
