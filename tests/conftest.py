"""Test session set-up: Keras 2 everywhere, before anything imports TensorFlow."""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# No Beam args: the in-process DirectRunner. Any non-empty args make every TFX Beam
# component build an sdist of TFX for remote workers first (tfx.utils.dependency_utils),
# seconds of CPU each that a local run does not need. The default multi-processing args
# are exercised by their own test.
FAST_BEAM_ARGS = []


def _run_task(root, task, **kwargs):
    from pipelines import local

    kwargs.setdefault("orchestrator", "beam")
    kwargs.setdefault("beam_args", FAST_BEAM_ARGS)
    return local.run(task, str(root), **kwargs)


@pytest.fixture(scope="session")
def run_task():
    """run_task(root, task, **kwargs): one real pipeline run (BeamDagRunner unless
    `orchestrator="local"`, in-process Beam unless `beam_args` says otherwise)."""
    return _run_task


@pytest.fixture(scope="session")
def penguins_run(tmp_path_factory):
    """The flagship pipeline run once per session; tests read its artifacts through MLMD."""
    return _run_task(tmp_path_factory.mktemp("penguins-run"), "penguins", epochs=30)
