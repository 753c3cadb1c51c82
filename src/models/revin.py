"""Reversible instance normalisation (Kim et al., ICLR 2022), without the affine part.

Each input window is normalised per series by its own mean and deviation over time, and
the forecast is mapped back with the same statistics, so a level the model never saw in
training looks like any other level. Registered layers, not Lambdas: models reload with
`safe_mode=True`.
"""

import keras
from keras import ops

EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="many2many")
class InstanceNormalize(keras.layers.Layer):
    """(B, T, C) -> [(B, T, C) normalised, (B, 1, C) mean, (B, 1, C) deviation]."""

    def call(self, x):
        mean = ops.mean(x, axis=1, keepdims=True)
        std = ops.sqrt(ops.var(x, axis=1, keepdims=True) + EPSILON)
        return [(x - mean) / std, mean, std]

    def compute_output_shape(self, input_shape):
        stats = (input_shape[0], 1, input_shape[2])
        return [tuple(input_shape), stats, stats]


@keras.saving.register_keras_serializable(package="many2many")
class InstanceDenormalize(keras.layers.Layer):
    """[(B, H, C) forecast, (B, 1, C) mean, (B, 1, C) deviation] -> (B, H, C)."""

    def call(self, inputs):
        y, mean, std = inputs
        return y * std + mean

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0])


def with_revin(core: keras.Model) -> keras.Model:
    """core: (B, T, C) -> (B, H, C), wrapped so it sees and emits per-window-normalised values."""
    inputs = keras.Input(core.input_shape[1:], name="window")
    normalised, mean, std = InstanceNormalize(name="revin_norm")(inputs)
    forecast = core(normalised)
    outputs = InstanceDenormalize(name="revin_denorm")([forecast, mean, std])
    return keras.Model(inputs, outputs, name=f"{core.name}_revin")
