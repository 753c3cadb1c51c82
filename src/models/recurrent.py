"""The three LSTM approaches to 3D in, 3D out from the seed question.

LSTMs keep Keras's default activations and no unrolling, so on a GPU they run on the
cuDNN kernel.
"""

import keras
from keras import layers


def _lstm_stack(x, units: list[int], prefix: str, return_sequences: bool,
                per_series: bool = False):
    """Stacked LSTMs named prefix_0, prefix_1, ...; all but the last return sequences.

    per_series: wrap each LSTM in TimeDistributed over axis 1, one series at a time.
    """
    for i, width in enumerate(units):
        sequences = return_sequences or i < len(units) - 1
        name = f"{prefix}_{i}"
        if per_series:
            layer = layers.TimeDistributed(layers.LSTM(width, return_sequences=sequences), name=name)
        else:
            layer = layers.LSTM(width, return_sequences=sequences, name=name)
        x = layer(x)
    return x


def reshape_head(input_steps: int, horizon: int, n_series: int, units: list[int],
                 name: str = "reshape_head") -> keras.Model:
    """All series enter one LSTM stack as features; a Dense head emits every output."""
    inputs = keras.Input((input_steps, n_series), name="window")           # (B, T, C)
    x = _lstm_stack(inputs, units, "encoder", return_sequences=False)      # (B, u_last)
    x = layers.Dense(horizon * n_series, name="head")(x)                  # (B, H*C)
    outputs = layers.Reshape((horizon, n_series), name="forecast")(x)     # (B, H, C)
    return keras.Model(inputs, outputs, name=name)


def timedistributed(input_steps: int, horizon: int, n_series: int, units: list[int],
                    name: str = "timedistributed") -> keras.Model:
    """One LSTM stack shared by all series, each series run through it on its own.

    The seed's `Reshape((C, T, 1))` straight from (T, C) would interleave the series
    (row-major order); the Permute first makes series the leading axis.
    """
    inputs = keras.Input((input_steps, n_series), name="window")          # (B, T, C)
    x = layers.Permute((2, 1), name="series_major")(inputs)               # (B, C, T)
    x = layers.Reshape((n_series, input_steps, 1), name="one_feature")(x)  # (B, C, T, 1)
    x = _lstm_stack(x, units, "encoder", return_sequences=False,
                    per_series=True)                                       # (B, C, u_last)
    x = layers.TimeDistributed(layers.Dense(horizon), name="head")(x)     # (B, C, H)
    outputs = layers.Permute((2, 1), name="forecast")(x)                  # (B, H, C)
    return keras.Model(inputs, outputs, name=name)


def seq2seq(input_steps: int, horizon: int, n_series: int, units: list[int],
            name: str = "seq2seq") -> keras.Model:
    """Encoder state repeated for each future step, decoded step by step."""
    inputs = keras.Input((input_steps, n_series), name="window")            # (B, T, C)
    state = _lstm_stack(inputs, units, "encoder", return_sequences=False)   # (B, u_last)
    x = layers.RepeatVector(horizon, name="repeat")(state)                  # (B, H, u_last)
    x = _lstm_stack(x, list(reversed(units)), "decoder", return_sequences=True)  # (B, H, u_0)
    outputs = layers.TimeDistributed(layers.Dense(n_series), name="head")(x)     # (B, H, C)
    return keras.Model(inputs, outputs, name=name)
