"""Figures logged as MLflow artifacts. Built on `matplotlib.figure.Figure`, not pyplot,
so nothing keeps them alive after logging and no display backend is needed."""

import numpy as np
import pandas as pd

from src.data.windowed import Split


def forecast_figure(split: Split, forecast: np.ndarray, series: list[str], n_windows: int,
                    title: str = ""):
    """A grid: one row per series, one column per test window (evenly spaced);
    each panel shows the input history, the truth and the forecast."""
    from matplotlib.figure import Figure

    n_windows = max(1, min(n_windows, len(split.X)))
    picks = np.linspace(0, len(split.X) - 1, n_windows).round().astype(int)
    n_series = len(series)
    fig = Figure(figsize=(3.2 * n_windows, 2.2 * n_series))
    axes = fig.subplots(n_series, n_windows, squeeze=False, sharex=True)
    input_steps, horizon = split.X.shape[1], split.y.shape[1]
    past = np.arange(-input_steps + 1, 1)
    future = np.arange(1, horizon + 1)
    for col, i in enumerate(picks):
        for c, name in enumerate(series):
            ax = axes[c, col]
            ax.plot(past, split.X[i, :, c], color="0.55", lw=1, label="history")
            ax.plot(future, split.y[i, :, c], color="black", lw=1.5, label="truth")
            ax.plot(future, forecast[i, :, c], color="tab:red", lw=1.5, ls="--", label="forecast")
            ax.axvline(0.5, color="0.85", lw=0.8)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))  # labels fit the margin
            if col == 0:
                ax.set_ylabel(name)
            if c == 0:
                ax.set_title(f"test window {i}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("steps from forecast origin")
    if title:
        fig.suptitle(title)
    set_margins(fig, top=0.75 if title else 0.45)
    return fig


def set_margins(fig, left: float = 0.9, right: float = 0.15, bottom: float = 0.55, top: float = 0.45) -> None:
    """Fixed margins in inches, room for the labels and titles: a layout engine
    (`tight_layout`) measures every text first and doubled the cost of a run's figure."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=0.25, hspace=0.35)


def history_figure(history, forecast, title: str = ""):
    """One panel per series: the recent history and the forecast after it (DataFrames with
    the same columns, indexed by time or step)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.4 * len(history.columns)))
    axes = fig.subplots(len(history.columns), 1, squeeze=False, sharex=True)[:, 0]
    step = isinstance(forecast.index, pd.RangeIndex)
    past = np.arange(-len(history) + 1, 1) if step else history.index
    for ax, name in zip(axes, history.columns):
        ax.plot(past, history[name].to_numpy(), color="0.45", lw=1, label="history")
        ax.plot(forecast.index, forecast[name].to_numpy(), color="tab:red", lw=1.6, marker=".",
                label="forecast")
        ax.set_ylabel(str(name))
    axes[0].legend(fontsize=8, loc="upper left")
    axes[-1].set_xlabel("steps ahead (history: steps back)" if step else str(history.index.name or "time"))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
