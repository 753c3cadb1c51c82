"""Using a trained approach: the forecaster every run logs as an MLflow model, the model
file MLflow loads, and the champion in the Model Registry."""
