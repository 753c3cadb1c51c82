"""Retrain each approach's best configuration with fresh seeds, so a gap between approaches
can be judged against seed noise. The best trial itself is left out: it was selected, so its
score is optimistic."""

import shlex
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from omegaconf import DictConfig

from src import tracking
from src.config import load_stored
from src.data.windowed import prepare
from src.pipeline import fit_and_log
from src.search.trial import merge_overrides, reproduce_command


def overrides_of(run: pd.Series) -> list[str]:
    """The overrides of a run's `reproduce` tag: `python -m src.train <overrides>`."""
    return shlex.split(run["tags.reproduce"])[3:]


def run_config(run_id: str) -> DictConfig:
    """The resolved config a run logged: exact, whatever the defaults are today. Read as
    data and checked (src.config.load_stored): a store can be written by others."""
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config.yaml", dst_path=tmp)
        return load_stored(Path(path).read_text(), where=f"run {run_id}")


def repeat_seeds(run: pd.Series, repeats: int) -> list[int]:
    base = int(run.get("params.seed", 0))
    return [base + i for i in range(1, repeats + 1)]


def run_repeats(best: dict[str, pd.Series], cfg: DictConfig, experiment_id: str) -> dict[str, list[dict]]:
    """Metrics of each repeat (with its `run_id`), per approach, under a progress bar.
    Finished repeats of an earlier report are reused; a model without weights (naive) is
    not repeated, its one run stands."""
    from tqdm import tqdm

    results = {}
    data_cache = {}
    trained = [arch for arch, run in best.items() if run["metrics.n_params"] > 0]
    bar = tqdm(total=len(trained) * cfg.compare.repeats, desc="repeats", unit="run", disable=None,
               dynamic_ncols=True)
    with bar:
        for arch, run in best.items():
            if arch not in trained:
                results[arch] = [{**_metrics(run), "run_id": run["run_id"]}]
                continue
            results[arch] = []
            for seed in repeat_seeds(run, cfg.compare.repeats):
                bar.set_postfix_str(f"{arch} seed {seed}")
                results[arch].append(_repeat(run, arch, seed, cfg, experiment_id, data_cache, bar))
                bar.update(1)
    return results


def _repeat(run: pd.Series, arch: str, seed: int, cfg: DictConfig, experiment_id: str,
            data_cache: dict, bar) -> dict:
    done = mlflow.search_runs(
        [experiment_id], max_results=1,
        filter_string=(f"tags.role = 'repeat' and tags.repeat_of = '{run['run_id']}' "
                       f"and tags.seed = '{seed}' and attributes.status = 'FINISHED'"))
    if not done.empty:
        return {**_metrics(done.iloc[0]), "run_id": done.iloc[0]["run_id"]}
    overrides = merge_overrides(overrides_of(run), [f"seed={seed}"])
    repeat_cfg = run_config(run["run_id"])
    repeat_cfg.seed, repeat_cfg.train.verbose = seed, 0
    key = repr(repeat_cfg.data)
    if key not in data_cache:
        data_cache[key] = prepare(repeat_cfg.data)
    tags = {"role": "repeat", "sweep": cfg.search.name, "repeat_of": run["run_id"],
            "seed": str(seed), "reproduce": reproduce_command(overrides)}
    with tracking.run(experiment_id, run_name=f"{arch}-seed-{seed}", tags=tags) as active:
        metrics = fit_and_log(repeat_cfg, data_cache[key])
    bar.write(f"{arch} seed {seed}: test MSE {metrics['test_mse']:.4g} in {metrics['fit_seconds']:.1f}s")
    return {**metrics, "run_id": active.info.run_id}


def _metrics(run: pd.Series) -> dict:
    return {k[len("metrics."):]: v for k, v in run.items()
            if isinstance(k, str) and k.startswith("metrics.") and pd.notna(v)}
