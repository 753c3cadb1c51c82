"""Baselines, built and logged exactly like the LSTM approaches."""

import keras
from keras import layers


def naive(input_steps: int, horizon: int, n_series: int, name: str = "naive") -> keras.Model:
    """Persistence: the last observed value of each series, repeated. No weights."""
    inputs = keras.Input((input_steps, n_series), name="window")                   # (B, T, C)
    last = layers.Cropping1D((input_steps - 1, 0), name="last_step")(inputs)       # (B, 1, C)
    outputs = layers.UpSampling1D(horizon, name="forecast")(last)                  # (B, H, C)
    return keras.Model(inputs, outputs, name=name)


def linear(input_steps: int, horizon: int, n_series: int, name: str = "linear") -> keras.Model:
    """One linear map from the whole window to the whole horizon."""
    inputs = keras.Input((input_steps, n_series), name="window")   # (B, T, C)
    x = layers.Flatten(name="flat")(inputs)                         # (B, T*C)
    x = layers.Dense(horizon * n_series, name="head")(x)            # (B, H*C)
    outputs = layers.Reshape((horizon, n_series), name="forecast")(x)
    return keras.Model(inputs, outputs, name=name)
