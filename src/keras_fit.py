"""The one training routine every approach goes through, so the comparison is fair."""

import math
import statistics
import sys
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from omegaconf import DictConfig

from src.data.model_inputs import WindowedData


VAL_BATCH = 4096


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class FitResult:
    epochs: int                 # epochs run (0 for a model with nothing to train)
    best_epoch: int             # 1-based epoch whose weights were kept
    best_val_loss: float        # validation MSE in training-std units (see src.data.scaling)
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0        # whole fit, compilation included
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        """Median epoch time once warm: the first epoch also traces and compiles."""
        warm = self.epoch_seconds[1:] or self.epoch_seconds
        return statistics.median(warm) if warm else 0.0


class EpochClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class StopOnInterrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt between batches and at each epoch's end once Ctrl+C was
    recorded (src.interrupts.Interrupt). Only reads a flag: Keras may call its batch hook
    from its own thread, so training does not wait for each step's logs (a KeyboardInterrupt
    raised there reaches the training loop at its next step)."""

    async_safe = True

    def __init__(self, interrupt):
        super().__init__()
        self.interrupt = interrupt

    def on_train_batch_end(self, batch, logs=None):
        self.interrupt.check()

    def on_epoch_end(self, epoch, logs=None):
        self.interrupt.check()


class _DivergenceGuard(keras.callbacks.Callback):
    """Stops at the end of the first epoch whose loss is not finite. Checked per epoch,
    not per batch, so training never waits on the host between batches."""

    def __init__(self):
        super().__init__()
        self.diverged_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        losses = [logs.get(k) for k in ("loss", "val_loss") if logs and k in logs]
        if any(not math.isfinite(float(v)) for v in losses):
            self.diverged_at = epoch + 1
            self.model.stop_training = True


def use_xla(setting: bool | None) -> bool:
    """`train.jit_compile`; null: XLA on a CPU-only machine, where it cut epoch times by
    2-3x here (`make bench`), and not where a GPU is visible, so LSTMs keep the cuDNN
    kernel. (Keras's own "auto" is the other way round.)"""
    if setting is not None:
        return setting
    return not tf.config.list_physical_devices("GPU")


def compile_model(model: keras.Model, cfg: DictConfig) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
                  loss="mse", jit_compile=use_xla(cfg.jit_compile),
                  steps_per_execution=cfg.steps_per_execution)


def batches(X: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None) -> tf.data.Dataset:
    """Fixed-size batches. For training (seed given): reshuffled every epoch, the last
    partial batch dropped (a different one each epoch), so the step is traced and
    XLA-compiled for one shape only. Otherwise one pass in order."""
    data = tf.data.Dataset.from_tensor_slices((X, y))
    if seed is None:
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    data = data.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
    return data.batch(min(batch_size, len(X)), drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def fit(model: keras.Model, data: WindowedData, cfg: DictConfig, seed: int,
        callbacks: list[keras.callbacks.Callback] = ()) -> FitResult:
    """Adam on MSE, early stopping on val_loss with the best weights restored; `seed`
    orders the batches.

    `callbacks` see every epoch's logs (MLflow logging, Optuna pruning). Raises
    TrainingDiverged when the loss goes NaN.
    """
    train = batches(*data.model_arrays(data.train), cfg.batch_size, seed=seed)
    # The whole validation split in one batch (up to VAL_BATCH): one shape, one trace.
    val = batches(*data.model_arrays(data.val), VAL_BATCH)
    compile_model(model, cfg)
    start = time.perf_counter()
    if not model.trainable_weights:  # the naive baseline: nothing to fit
        val_loss = float(model.evaluate(val, verbose=0))
        return FitResult(epochs=0, best_epoch=0, best_val_loss=val_loss,
                         seconds=time.perf_counter() - start)

    clock, guard = EpochClock(), _DivergenceGuard()
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                            restore_best_weights=True)
    verbose = cfg.verbose if cfg.verbose is not None else (1 if sys.stdout.isatty() else 2)
    history = model.fit(train, validation_data=val, epochs=cfg.epochs, verbose=verbose, shuffle=False,
                        callbacks=[clock, guard, stopper, *callbacks])
    seconds = time.perf_counter() - start
    # Forecasting after training is a few calls on new shapes: compiling each with XLA
    # would cost more than it saves.
    model.jit_compile = False
    if guard.diverged_at is not None:
        raise TrainingDiverged(f"loss became NaN or infinite in epoch {guard.diverged_at}; "
                               f"try a lower train.learning_rate (now {cfg.learning_rate})")
    val_losses = history.history["val_loss"]
    best = int(np.argmin(val_losses))
    return FitResult(epochs=len(val_losses), best_epoch=best + 1,
                     best_val_loss=float(val_losses[best]),
                     history={k: [float(v) for v in vs] for k, vs in history.history.items()},
                     seconds=seconds, epoch_seconds=clock.seconds)
