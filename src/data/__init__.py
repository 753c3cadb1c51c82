"""The data side: sources (synthetic, CSV), windows and splits, scaling and stacking, and
`model_inputs.prepare`, which turns a data config into model-ready splits. `scaling` and
`stacking` need only NumPy, so a logged model can carry them without the rest."""
