"""Figures logged as MLflow artifacts. Built on `matplotlib.figure.Figure`, not pyplot,
so nothing keeps them alive after logging and no display backend is needed."""

import numpy as np
import pandas as pd

from src.data.windows import Split


# Series drawn in one figure, a row of panels each. Matplotlib's shared axes cost more than
# in proportion to the panels: 100 series took 4 minutes to draw, 300 hours.
MAX_SERIES_DRAWN = 8


def series_drawn(n_series: int) -> tuple[list[int], str]:
    """The series a figure draws, evenly spaced over all of them, and a note saying so
    where they are not all."""
    if n_series <= MAX_SERIES_DRAWN:
        return list(range(n_series)), ""
    picks = np.linspace(0, n_series - 1, MAX_SERIES_DRAWN).round().astype(int).tolist()
    return picks, f"{MAX_SERIES_DRAWN} of {n_series} series drawn"


def with_note(title: str, note: str) -> str:
    return f"{title} ({note})" if title and note else title or note


def forecast_figure(split: Split, forecast: np.ndarray, series: list[str], n_windows: int,
                    title: str = ""):
    """A grid: one row per series (at most MAX_SERIES_DRAWN), one column per test window
    (evenly spaced); each panel shows the input history, the truth and the forecast."""
    from matplotlib.figure import Figure

    n_windows = max(1, min(n_windows, len(split.X)))
    picks = np.linspace(0, len(split.X) - 1, n_windows).round().astype(int)
    drawn, note = series_drawn(len(series))
    title = with_note(title, note)
    fig = Figure(figsize=(3.2 * n_windows, 2.2 * len(drawn)))
    axes = fig.subplots(len(drawn), n_windows, squeeze=False, sharex=True)
    input_steps, horizon = split.X.shape[1], split.y.shape[1]
    past = np.arange(-input_steps + 1, 1)
    future = np.arange(1, horizon + 1)
    for col, i in enumerate(picks):
        for row, c in enumerate(drawn):
            ax, name = axes[row, col], series[c]
            ax.plot(past, split.X[i, :, c], color="0.55", lw=1, label="history")
            ax.plot(future, split.y[i, :, c], color="black", lw=1.5, label="truth")
            ax.plot(future, forecast[i, :, c], color="tab:red", lw=1.5, ls="--", label="forecast")
            ax.axvline(0.5, color="0.85", lw=0.8)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))  # labels fit the margin
            if col == 0:
                ax.set_ylabel(name)
            if row == 0:
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
    """One panel per series (at most MAX_SERIES_DRAWN): the recent history and the forecast
    after it (DataFrames with the same columns, indexed by time or step)."""
    from matplotlib.figure import Figure

    drawn, note = series_drawn(len(history.columns))
    history, forecast, title = history.iloc[:, drawn], forecast.iloc[:, drawn], with_note(title, note)
    fig = Figure(figsize=(8, 2.4 * len(drawn)))
    axes = fig.subplots(len(drawn), 1, squeeze=False, sharex=True)[:, 0]
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
