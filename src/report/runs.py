"""A sweep's runs from MLflow, checked: one split for all, best trial per approach,
trial counts, and the runs that lack a metric."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from src import run_tags, services
from src.config import UserError, load_stored
from src.tuning import selection
from src.tracking import point_mlflow_at

REQUIRED_METRICS = ("best_val_loss", "test_mse", "test_mae", "n_params")


def tag(runs: pd.DataFrame, name: str) -> pd.Series:
    """A tag column of mlflow.search_runs' frame; all missing where no run has the tag
    (MLflow then leaves the column out)."""
    return runs.get(f"tags.{name}", pd.Series(None, index=runs.index, dtype=object))


@dataclass
class SweepRuns:
    experiment_id: str
    runs: pd.DataFrame  # mlflow.search_runs rows tagged sweep=<name>

    def role(self, role: str) -> pd.DataFrame:
        return self.runs[tag(self.runs, "role") == role]

    @property
    def trials(self) -> pd.DataFrame:
        return self.role("trial")

    @property
    def baselines(self) -> pd.DataFrame:
        """Finished baseline runs, but none of an approach the sweep also studied (an arch
        moved from search.baselines to search.archs under one search.name): its row is its
        study's, and the old baseline run took it over in the report."""
        runs = self.role("baseline")
        studied = {*tag(self.role("study"), "approach").dropna(), *tag(self.trials, "approach").dropna()}
        return runs[(runs["status"] == "FINISHED") & ~tag(runs, "approach").isin(studied)]


def run_config(run_id: str) -> DictConfig:
    """The resolved config a run logged: exact, whatever the defaults are today. Read as
    data and checked (src.config.load_stored): a store can be written by others."""
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config.yaml", dst_path=tmp)
        return load_stored(Path(path).read_text(), where=f"run {run_id}")


def load_sweep_runs(tracking: DictConfig, sweep: str) -> SweepRuns:
    """The runs of sweep `sweep`; UserError when the store, the experiment or the sweep
    is not there (nothing is created looking)."""
    uri = tracking.uri
    services.check_store_exists(uri, "run `make sweep` first, or set tracking.uri")
    point_mlflow_at(uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is None:
        names = ", ".join(e.name for e in client.search_experiments()) or "none"
        raise UserError(f"no MLflow experiment '{tracking.experiment}' in {uri}; "
                        f"experiments there: {names}")
    runs = mlflow.search_runs([experiment.experiment_id], filter_string=run_tags.match(sweep=sweep))
    # Rows are keyed by approach (arch and stacking, src.tuning.approaches.label); runs
    # logged before that tag existed have only their arch.
    runs["tags.approach"] = tag(runs, "approach").fillna(tag(runs, "arch"))
    if runs.empty or not ((tag(runs, "role") == "trial") & tag(runs, "trial_state").isin(selection.FINISHED)).any():
        everything = mlflow.search_runs([experiment.experiment_id])
        sweeps = sorted(everything.get("tags.sweep", pd.Series(dtype=str)).dropna().unique())
        raise UserError(f"sweep '{sweep}' has no finished trials in experiment "
                        f"'{tracking.experiment}'; sweeps there: {', '.join(sweeps) or 'none'} "
                        f"(choose one with search.name=...)")
    return SweepRuns(experiment.experiment_id, runs)


def approaches(sweep: SweepRuns) -> list[str]:
    """Every approach the sweep searched (a study run each), in the sweep's order."""
    studies = sweep.role("study").sort_values("start_time")
    names = list(dict.fromkeys([*tag(studies, "approach").dropna(), *tag(sweep.trials, "approach").dropna()]))
    return names


def finished_trials(sweep: SweepRuns) -> pd.DataFrame:
    return sweep.trials[tag(sweep.trials, "trial_state").isin(selection.FINISHED)]


def finished(sweep: SweepRuns) -> pd.DataFrame:
    """Finished trials and baselines: what a report is built from."""
    return pd.concat([finished_trials(sweep), sweep.baselines])


def check_one_split(sweep: SweepRuns) -> str:
    """The split fingerprint every finished run shares; UserError naming the runs when
    they saw different windows."""
    runs = finished(sweep)
    groups = runs.groupby(runs["tags.split_fingerprint"].fillna("none"))
    if len(groups) == 1:
        return next(iter(groups.groups))
    parts = []
    for fingerprint, group in groups:
        names = ", ".join(group["tags.mlflow.runName"].head(4))
        more = f" and {len(group) - 4} more" if len(group) > 4 else ""
        parts.append(f"{fingerprint}: {names}{more}")
    raise UserError("these runs saw different data or splits and cannot be compared: "
                    + "; ".join(parts))


def missing_metrics(sweep: SweepRuns) -> list[str]:
    """'<run name> (<run id>): <metrics>' for finished runs that lack a required metric."""
    lines = []
    for _, run in finished(sweep).iterrows():
        absent = [m for m in REQUIRED_METRICS if pd.isna(run.get(f"metrics.{m}"))]
        if absent:
            lines.append(f"{run['tags.mlflow.runName']} ({run['run_id']}): {', '.join(absent)}")
    return lines


def same_networks(sweep: SweepRuns) -> dict[str, str]:
    """{approach not trained: the approach trained instead}, for the combinations of arch and
    stacking that build one network (their study run's tag `same_network`)."""
    studies = sweep.role("study")
    return {twin: approach for approach, twins in zip(tag(studies, "approach"), tag(studies, "same_network"))
            if isinstance(twins, str) for twin in twins.split(",")}


def targets(sweep: SweepRuns) -> dict[str, int]:
    """Each study's `search.n_trials`, as its study run recorded it."""
    studies = sweep.role("study")
    return {arch: int(n) for arch, n in zip(tag(studies, "approach"), studies.get("metrics.target_trials", []))
            if pd.notna(n)}


UNNUMBERED = 10**9  # a trial run without its number (made by hand) counts after the numbered


def _outcomes(group: pd.DataFrame) -> list[selection.Outcome]:
    numbers = tag(group, "trial_number")
    return [selection.Outcome(UNNUMBERED if pd.isna(numbers[i]) else int(numbers[i]), row["tags.trial_state"],
                              None if pd.isna(row["metrics.best_val_loss"]) else row["metrics.best_val_loss"],
                              row["run_id"]) for i, row in group.iterrows()]


def best_trials(sweep: SweepRuns) -> dict[str, pd.Series]:
    """Each approach's selected trial (src.tuning.selection), the one the sweep's table shows."""
    n_trials, best = targets(sweep), {}
    for arch, group in sweep.trials.groupby("tags.approach", sort=False):
        chosen = selection.selected(_outcomes(group), n_trials.get(arch, len(group)))
        if chosen is not None:
            best[arch] = group[group["run_id"] == chosen.run_id].iloc[0]
    return best


def trial_counts(sweep: SweepRuns) -> dict[str, dict[str, int]]:
    n_trials = targets(sweep)
    return {arch: selection.counts(_outcomes(group), n_trials.get(arch, len(group)))
            for arch, group in sweep.trials.groupby("tags.approach", sort=False)}


def search_seconds(sweep: SweepRuns, best: dict[str, pd.Series]) -> dict[str, float]:
    """What finding each approach's configuration cost: the seconds of every trial of its
    study that ended (failed ones too), or of the baseline run in the report."""
    ended = sweep.trials[sweep.trials["end_time"].notna()]
    seconds = (ended["end_time"] - ended["start_time"]).dt.total_seconds()
    out = seconds.groupby(tag(ended, "approach")).sum().to_dict()
    for _, run in sweep.baselines.iterrows():
        chosen = best.get(run["tags.approach"])
        if chosen is not None and chosen["run_id"] == run["run_id"]:
            out[run["tags.approach"]] = (run["end_time"] - run["start_time"]).total_seconds()
    return out
