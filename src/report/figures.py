"""The comparison report's figures, as matplotlib Figures (no pyplot state)."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.data.windows import Split
from src.run_figures import series_drawn, with_note


def _colors(approaches: list[str]) -> dict[str, str]:
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
               "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
    return {a: palette[i % len(palette)] for i, a in enumerate(approaches)}


def loss_vs_params(trials: pd.DataFrame, baselines: pd.DataFrame, approaches: list[str]) -> Figure:
    """Every finished trial's best validation loss against its parameter count; pruned
    trials hollow (their loss is where they stopped), baselines as stars."""
    colors = _colors(approaches)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for arch, group in trials.groupby("tags.approach", sort=False):
        for state, filled in (("COMPLETE", True), ("PRUNED", False)):
            part = group[group["tags.trial_state"] == state]
            if part.empty:
                continue
            ax.scatter(part["metrics.n_params"].clip(lower=1), part["metrics.best_val_loss"],
                       s=36, edgecolors=colors[arch], facecolors=colors[arch] if filled else "none",
                       label=arch if filled else f"{arch} (pruned)")
    for _, run in baselines.iterrows():
        arch = run["tags.approach"]
        ax.scatter(max(run["metrics.n_params"], 1), run["metrics.best_val_loss"], marker="*",
                   s=160, color=colors.get(arch, "black"), label=f"{arch} (baseline)")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log; 0 drawn at 1)")
    ax.set_ylabel("best validation loss")
    ax.set_title("Validation loss against model size, every trial")
    ax.legend(fontsize=7, ncols=2)
    fig.tight_layout()
    return fig


def error_by(metric_rows: dict[str, dict], keys: list[str], labels: list[str], title: str,
             xlabel: str, bars: bool) -> Figure:
    """Test MSE per horizon step (lines) or per series (grouped bars), one colour per
    approach; metric_rows maps approach -> {key: (mean, std)}."""
    colors = _colors(list(metric_rows))
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    x = np.arange(len(keys))
    width = 0.8 / max(1, len(metric_rows))
    for i, (arch, values) in enumerate(metric_rows.items()):
        mean = np.array([values.get(k, (np.nan, 0))[0] for k in keys])
        std = np.array([values.get(k, (np.nan, 0))[1] for k in keys])
        if bars:
            # No error bar where no spread was measured (one seed, or a deterministic
            # baseline): a cap at the mean read as a spread of exactly zero.
            left = x + i * width - 0.4 + width / 2
            ax.bar(left, mean, width, color=colors[arch], label=arch)
            spread = std > 0
            ax.errorbar(left[spread], mean[spread], yerr=std[spread], fmt="none", ecolor="black",
                        capsize=2, label="_nolegend_")
        else:
            ax.plot(x + 1, mean, marker="o", color=colors[arch], label=arch)
            ax.fill_between(x + 1, mean - std, mean + std, color=colors[arch], alpha=0.15)
    ax.set_xticks(x if bars else x + 1, labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test MSE (original units)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def forecasts(split: Split, predictions: dict[str, np.ndarray], series: list[str],
              n_windows: int) -> Figure:
    """A few evenly spaced test windows: history, truth and every approach's forecast,
    one row per series (at most MAX_SERIES_DRAWN of them, evenly spaced: one row per series
    of 100 took minutes to draw)."""
    colors = _colors(list(predictions))
    n_windows = max(1, min(n_windows, len(split.X)))
    picks = np.linspace(0, len(split.X) - 1, n_windows).round().astype(int)
    drawn, note = series_drawn(len(series))
    fig = Figure(figsize=(3.4 * n_windows, 2.4 * len(drawn) + 0.5))
    axes = fig.subplots(len(drawn), n_windows, squeeze=False, sharex=True)
    input_steps, horizon = split.X.shape[1], split.y.shape[1]
    past, future = np.arange(-input_steps + 1, 1), np.arange(1, horizon + 1)
    for col, i in enumerate(picks):
        for row, c in enumerate(drawn):
            ax, name = axes[row, col], series[c]
            ax.plot(past, split.X[i, :, c], color="0.6", lw=1, label="history")
            ax.plot(future, split.y[i, :, c], color="black", lw=1.6, label="truth")
            for arch, forecast in predictions.items():
                ax.plot(future, forecast[i, :, c], color=colors[arch], lw=1.2, ls="--", label=arch)
            if col == 0:
                ax.set_ylabel(name)
            if row == 0:
                ax.set_title(f"test window {i}", fontsize=9)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in axes[-1]:
        ax.set_xlabel("steps from forecast origin")
    fig.suptitle(with_note("Each approach's best model on test windows", note), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the title
    return fig


def error_by_fold(ratios: dict[str, dict[int, tuple[float, float]]], labels: list[str]) -> Figure:
    """Test MSE / naive per rolling-origin fold (oldest first), one line per approach, ± one
    std over seeds shaded; ratios maps approach -> {fold: (mean, std)}."""
    colors = _colors(list(ratios))
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    x = np.arange(len(labels))
    for arch, by_fold in ratios.items():
        mean = np.array([by_fold.get(k, (np.nan, 0))[0] for k in range(len(labels))])
        std = np.array([by_fold.get(k, (np.nan, 0))[1] for k in range(len(labels))])
        ax.plot(x, mean, marker="o", color=colors[arch], label=arch)
        ax.fill_between(x, mean - std, mean + std, color=colors[arch], alpha=0.15)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_xticks(x, labels)
    ax.set_xlabel("fold (test rows); the last is the sweep's test split")
    ax.set_ylabel("test MSE / naive test MSE")
    ax.set_title("Test error relative to naive, per fold")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
