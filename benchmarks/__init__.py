"""Benchmarks of the losskit losses against their baselines, and of the TFX Transform / pipeline
steps; `python -m benchmarks.run --help` lists the modes, `benchmarks/results/` holds the output.

Importing this package sets the same TensorFlow environment as the project (Keras 2 through
tf_keras, quiet C++ logs) before anything imports TensorFlow, so every entry point and every
benchmark child process agree on it.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
