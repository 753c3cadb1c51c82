"""One sweep trial: the trial's config, its nested MLflow run, pruning, and its outcome."""

import copy
import math
from typing import Callable

import keras
import mlflow
import optuna
from omegaconf import DictConfig, OmegaConf

from src import tracking
from src import run_tags as tags
from src.config import validate
from src.data.model_inputs import WindowedData
from src.overrides import merge_overrides, reproduce_command
from src.one_run import fit_and_log
from src.tuning.space import as_overrides, suggest
from src.tuning.worker import StudyJob


class PruneOnPlateau(keras.callbacks.Callback):
    """Reports val_loss each epoch (step = epoch, 1-based) and stops training when the
    pruner says so. Stopping instead of raising lets the run log what it reached."""

    def __init__(self, trial: optuna.Trial):
        super().__init__()
        self.trial = trial
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = float((logs or {}).get("val_loss", math.nan))
        if not math.isfinite(value):
            return  # the divergence guard fails the trial
        self.trial.report(value, step=epoch + 1)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True


def taper_param(params: dict) -> dict[str, str]:
    """The sampled taper, the one searched value no config key holds: depth and first width
    are params of every run (src.run_record.handles), the keyed values under their key."""
    return {"taper": str(params["taper"])} if "taper" in params else {}


def trial_config(job: StudyJob, values: dict) -> DictConfig:
    """The study's config with the trial's sampled values set: what Hydra composes from the
    sweep's, the approach's and the trial's overrides (tests/test_sweep.py checks), without
    composing again. Every searched key names a value
    (src.tuning.space.check_space), so setting it is all an override does."""
    cfg = copy.deepcopy(job.cfg)
    for key, value in values.items():
        OmegaConf.update(cfg, key, value, merge=True)
    return cfg


def run_trial(trial: optuna.Trial, job: StudyJob, base_overrides: list[str],
              data_for: Callable[[DictConfig], WindowedData],
              experiment_id: str, callbacks: list[keras.callbacks.Callback] = ()) -> float:
    """Train the trial's config into a child run of the study's parent run and return its
    best validation loss.

    A pruned trial raises optuna.TrialPruned and its run ends KILLED; any other exception
    ends the run FAILED and propagates, as does KeyboardInterrupt (run KILLED).
    """
    values = suggest(trial, job.space, job.base_units)
    overrides = merge_overrides(base_overrides, [*job.approach.overrides, *as_overrides(values)])
    cfg = trial_config(job, values)
    cfg.train.verbose = 0  # the sweep prints one line per trial instead
    command = reproduce_command(overrides)
    trial_tags = {**job.tags, tags.ROLE: tags.TRIAL, tags.TRIAL_NUMBER: str(trial.number),
                  tags.TRIAL_STATE: "RUNNING", tags.REPRODUCE: command}
    pruning = PruneOnPlateau(trial)
    with tracking.run(experiment_id, run_name=f"{job.approach.label}-trial-{trial.number}",
                      parent_run_id=job.parent_run_id, tags=trial_tags,
                      killed_on=(KeyboardInterrupt, optuna.TrialPruned)) as active:
        trial.set_user_attr("mlflow_run_id", active.info.run_id)
        trial.set_user_attr("reproduce", command)
        mlflow.log_params({"trial_number": trial.number, **taper_param(trial.params)})
        try:
            # In the run: sampled values that the config or the data refuse (the space may
            # search data keys, e.g. data.input_steps) make a FAILED run that says why.
            validate(cfg)
            data = data_for(cfg.data)
            metrics = fit_and_log(cfg, data, callbacks=[pruning, *callbacks])
        except BaseException:
            mlflow.set_tag(tags.TRIAL_STATE, "FAIL")
            raise
        if pruning.pruned_at is not None:
            mlflow.set_tags({tags.TRIAL_STATE: "PRUNED", tags.PRUNED_AT_EPOCH: str(pruning.pruned_at)})
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
        mlflow.set_tag(tags.TRIAL_STATE, "COMPLETE")
    return metrics["best_val_loss"]
