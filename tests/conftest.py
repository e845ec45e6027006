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


# In-process Beam keeps each component's start-up cheap on small CI machines; the default
# multi-processing DirectRunner is exercised by its own test.
FAST_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def run_task(root, task, **kwargs):
    """One real pipeline run (BeamDagRunner unless `orchestrator="local"`)."""
    from pipelines import local

    kwargs.setdefault("orchestrator", "beam")
    kwargs.setdefault("beam_args", FAST_BEAM_ARGS)
    return local.run(task, str(root), **kwargs)


@pytest.fixture(scope="session")
def penguins_run(tmp_path_factory):
    """The flagship pipeline run once per session; tests read its artifacts through MLMD."""
    return run_task(tmp_path_factory.mktemp("penguins-run"), "penguins", epochs=30)
