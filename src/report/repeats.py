"""Retrain each approach's best configuration with fresh seeds, so a gap between approaches
can be judged against seed noise, on each rolling-origin fold (compare.folds, src.data.folds),
so it can be judged against another test period too. The best trial itself is left out: it
was selected, so its score is optimistic."""

import shlex

import mlflow
import pandas as pd
from omegaconf import DictConfig

from src import interrupts, run_tags, tracking
from src.keras_fit import StopOnInterrupt
from src.report.backtest import test_rows
from src.report.runs import run_config
from src.data.model_inputs import WindowedData, prepare
from src.overrides import merge_overrides, reproduce_command
from src.one_run import fit_and_log


def overrides_of(run: pd.Series) -> list[str]:
    """The overrides of a run's `reproduce` tag: `python -m src.train <overrides>`."""
    return shlex.split(run["tags.reproduce"])[3:]


def repeat_seeds(run: pd.Series, repeats: int) -> list[int]:
    base = int(run.get("params.seed", 0))
    return [base + i for i in range(1, repeats + 1)]


def prepare_folds(best: dict[str, pd.Series], folds: int) -> dict[str, list[WindowedData]]:
    """Each approach's data for every fold (the last: the sweep's split), from its run's
    config, before anything is trained: too few rows for the folds is a UserError here."""
    cache, out = {}, {}
    for arch, run in best.items():
        data_cfg = run_config(run["run_id"]).data
        key = repr(data_cfg)
        if key not in cache:
            cache[key] = [prepare(data_cfg, fold=k, folds=folds) for k in range(folds)]
        out[arch] = cache[key]
    return out


def run_repeats(best: dict[str, pd.Series], cfg: DictConfig, experiment_id: str,
                fold_data: dict[str, list[WindowedData]]) -> dict[str, list[dict]]:
    """Metrics of each fold × seed (with its `run_id` and `fold`), per approach, under a
    progress bar. Finished runs of an earlier report on the same fold (its fingerprint) and
    seed are reused; a deterministic approach (see `seeded`) has no seeds: its sweep run
    stands for the last fold, one run each for the others."""
    from tqdm import tqdm

    folds = cfg.compare.folds
    results = {}
    with_seeds = [arch for arch, run in best.items() if seeded(run)]
    deterministic = len(best) - len(with_seeds)
    bar = tqdm(total=len(with_seeds) * folds * cfg.compare.repeats + deterministic * (folds - 1),
               desc="repeats", unit="run", disable=None, dynamic_ncols=True)
    with bar:
        for arch, run in best.items():
            last = {**_metrics(run), "run_id": run["run_id"], "fold": folds - 1}
            seeds = repeat_seeds(run, cfg.compare.repeats) if arch in with_seeds else [int(run.get("params.seed", 0))]
            results[arch] = []
            for fold, data in enumerate(fold_data[arch]):
                if arch not in with_seeds and fold == folds - 1:
                    results[arch].append(last)
                    continue
                for seed in seeds:
                    bar.set_postfix_str(f"{arch} fold {fold} seed {seed}" if folds > 1 else f"{arch} seed {seed}")
                    results[arch].append(_repeat(run, arch, seed, (fold, folds), data, cfg, experiment_id, bar))
                    bar.update(1)
    return results


def seeded(run: pd.Series) -> bool:
    """Whether the seed changes what a run's configuration gives: not for naive, the
    closed-form linear or a statistical baseline (tagged `deterministic` by the pipeline;
    runs from before the tag: those without weights)."""
    if run.get("tags.deterministic") in ("true", "false"):
        return run["tags.deterministic"] == "false"
    return run["metrics.n_params"] > 0


def _repeat(run: pd.Series, arch: str, seed: int, fold: tuple[int, int], data: WindowedData,
            cfg: DictConfig, experiment_id: str, bar) -> dict:
    k, folds = fold
    fold_tags = {run_tags.FOLD: str(k), run_tags.FOLDS: str(folds)}
    done = mlflow.search_runs(
        [experiment_id], max_results=1,
        filter_string=(run_tags.match(role=run_tags.REPEAT, repeat_of=run["run_id"], seed=seed,
                                      split_fingerprint=data.fingerprint) + " and attributes.status = 'FINISHED'"))
    if not done.empty:
        run_id = done.iloc[0]["run_id"]
        for key, value in fold_tags.items():  # this report's numbering of the same fold
            mlflow.MlflowClient().set_tag(run_id, key, value)
        return {**_metrics(done.iloc[0]), "run_id": run_id, "fold": k}
    overrides = merge_overrides(overrides_of(run), [f"seed={seed}"])
    repeat_cfg = run_config(run["run_id"])
    repeat_cfg.seed, repeat_cfg.train.verbose = seed, 0
    tags = {run_tags.ROLE: run_tags.REPEAT, run_tags.SWEEP: cfg.search.name, run_tags.REPEAT_OF: run["run_id"],
            run_tags.SEED: str(seed),
            **fold_tags, run_tags.TEST_ROWS: test_rows(data)}
    if k == folds - 1:  # src.train trains on the sweep's split, i.e. the last fold only
        tags[run_tags.REPRODUCE] = reproduce_command(overrides)
    name = f"{arch}-seed-{seed}" if folds == 1 else f"{arch}-fold-{k}-seed-{seed}"
    with interrupts.noticed() as interrupt, tracking.run(experiment_id, run_name=name, tags=tags) as active:
        metrics = fit_and_log(repeat_cfg, data, callbacks=[StopOnInterrupt(interrupt)])
        interrupt.check()  # as in src.train: a Ctrl+C a finalizer swallowed
    where = f"fold {k} seed {seed}" if folds > 1 else f"seed {seed}"
    bar.write(f"{arch} {where}: test MSE {metrics['test_mse']:.4g} in {metrics['fit_seconds']:.1f}s")
    return {**metrics, "run_id": active.info.run_id, "fold": k}


def _metrics(run: pd.Series) -> dict:
    return {k[len("metrics."):]: v for k, v in run.items()
            if isinstance(k, str) and k.startswith("metrics.") and pd.notna(v)}
