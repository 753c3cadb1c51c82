"""Baselines, built and logged exactly like the LSTM approaches."""

import keras
from keras import layers


def naive(input_steps: int, horizon: int, n_series: int, name: str = "naive") -> keras.Model:
    """Persistence: the last observed value of each series, repeated. No weights."""
    inputs = keras.Input((input_steps, n_series), name="window")                   # (B, T, C)
    last = layers.Cropping1D((input_steps - 1, 0), name="last_step")(inputs)       # (B, 1, C)
    outputs = layers.UpSampling1D(horizon, name="forecast")(last)                  # (B, H, C)
    return keras.Model(inputs, outputs, name=name)


def seasonal_naive(input_steps: int, horizon: int, n_series: int, period: int,
                   name: str = "seasonal_naive") -> keras.Model:
    """The last `period` steps of each series, repeated: step h of the forecast is the value
    one whole number of periods earlier. No weights. Like naive, it commutes with every
    scaling (a per-series shift and scale), so it forecasts the same under each."""
    inputs = keras.Input((input_steps, n_series), name="window")                      # (B, T, C)
    season = layers.Cropping1D((input_steps - period, 0), name="last_season")(inputs)  # (B, P, C)
    repeats = -(-horizon // period)
    tiled = layers.Concatenate(axis=1, name="seasons")([season] * repeats) if repeats > 1 else season
    outputs = layers.Cropping1D((0, repeats * period - horizon), name="forecast")(tiled)  # (B, H, C)
    return keras.Model(inputs, outputs, name=name)


def linear(input_steps: int, horizon: int, n_series: int, name: str = "linear") -> keras.Model:
    """One linear map from the whole window to the whole horizon; its `head` is solved in
    closed form by src.models.ridge."""
    inputs = keras.Input((input_steps, n_series), name="window")   # (B, T, C)
    x = layers.Flatten(name="flat")(inputs)                         # (B, T*C)
    x = layers.Dense(horizon * n_series, name="head")(x)            # (B, H*C)
    outputs = layers.Reshape((horizon, n_series), name="forecast")(x)
    return keras.Model(inputs, outputs, name=name)
