"""Train and track one approach: `python -m src.train arch=timedistributed`.

`train(cfg) -> metrics` is the whole job; the Hydra wrapper at the bottom only composes
the config and turns user errors into one line.
"""

import gc
import logging
import math

from omegaconf import DictConfig

from src import services
from src.config import validate
from src.data.model_inputs import prepare
from src.models import statistical

log = logging.getLogger(__name__)


def train(cfg: DictConfig, callbacks: list = ()) -> dict[str, float]:
    """Validate, read and window the data, then fit and log one MLflow run; `callbacks`
    are extra Keras callbacks. Everything that can reject the input runs before the run
    is created."""
    validate(cfg)
    data = prepare(cfg.data)
    statistical.check_fits(cfg.arch, data.val.starts[0])
    services.check_tracking(cfg.tracking.uri)
    services.check_artifact_root(cfg.tracking)
    from src import interrupts, tracking  # TensorFlow loads here, not on `--help`
    from src.keras_fit import StopOnInterrupt
    from src.one_run import fit_and_log

    # What exists now (the imported TensorFlow, Keras, MLflow) lives until exit: frozen, the
    # garbage collector stops scanning it in every full collection (0.2 s each here, one of
    # them in each clear_session). Once per process, so a later run's garbage stays collectable.
    if not gc.get_freeze_count():
        gc.freeze()
    experiment_id = tracking.use_experiment(cfg.tracking)
    with interrupts.noticed() as interrupt, tracking.run(experiment_id, run_name=cfg.run_name) as active:
        metrics = fit_and_log(cfg, data, callbacks=[StopOnInterrupt(interrupt), *callbacks])
        interrupt.check()  # one a finalizer swallowed after the last epoch
    log.info("%s: %s; run %s in experiment '%s' (make ui)", cfg.arch.name, scores_text(metrics),
             active.info.run_id, cfg.tracking.experiment)
    return {**metrics, "run_id": active.info.run_id}


def scores_text(metrics: dict[str, float]) -> str:
    """`test MSE 0.8, MAE 0.7, 0.93x naive MSE`; where the naive forecast is exact (its MSE 0)
    there is no ratio, which printed as 'nanx'."""
    ratio = metrics["test_mse_ratio_to_naive"]
    versus = "naive MSE 0, no ratio" if math.isnan(ratio) else f"{ratio:.2f}x naive MSE"
    return f"test MSE {metrics['test_mse']:.4g}, MAE {metrics['test_mae']:.4g}, {versus}"


def main() -> None:
    from src.cli import run_app

    run_app(train, config_name="config")


if __name__ == "__main__":
    main()
