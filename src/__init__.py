"""many2many: compare 3D-in/3D-out LSTM forecasters with Hydra, Optuna and MLflow."""

import os

from src import quiet, trim

# TensorFlow's C++ logging below ERROR (INFO notes, retracing warnings) hides the useful
# output; its start-up chatter, which this does not reach, is filtered by src.quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet.install()
trim.install()
