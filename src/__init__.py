"""many2many: compare 3D-in/3D-out LSTM forecasters with Hydra, Optuna and MLflow."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) hides the useful output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
