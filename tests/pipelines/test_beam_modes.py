"""The rule `losskit run` picks Beam's DirectRunner mode by, and that the pipeline gets it."""

import pytest

from pipelines import beam_modes

IN_MEMORY = list(beam_modes.MODES[beam_modes.IN_MEMORY])
MULTI = list(beam_modes.MODES[beam_modes.MULTI_PROCESSING])


def test_small_data_runs_in_memory_and_large_data_over_processes_on_two_cores():
    crossover = beam_modes.CROSSOVER_BYTES_2_CORES
    assert beam_modes.beam_args(16 * 2**10, cpu_count=2) == IN_MEMORY
    assert beam_modes.beam_args(crossover - 1, cpu_count=2) == IN_MEMORY
    assert beam_modes.beam_args(crossover, cpu_count=2) == MULTI
    assert beam_modes.beam_args(10 * crossover, cpu_count=2) == MULTI


def test_more_cores_move_the_crossover_down_and_one_core_never_multiprocesses():
    two, four, sixteen = (beam_modes.crossover_bytes(n) for n in (2, 4, 16))
    assert two == pytest.approx(beam_modes.CROSSOVER_BYTES_2_CORES)
    assert sixteen < four < two
    assert beam_modes.choose(100 * two, cpu_count=1) == beam_modes.IN_MEMORY


def test_unknown_size_keeps_the_mode_that_scales():
    assert beam_modes.choose(None, cpu_count=2) == beam_modes.MULTI_PROCESSING
    assert beam_modes.input_bytes("gs://bucket/data", "*.tfrecord") is None


def test_user_args_replace_the_choice_whatever_the_size():
    user = ["--runner=DirectRunner", "--direct_running_mode=multi_threading"]
    assert beam_modes.beam_args(1, user, cpu_count=2) == user
    assert beam_modes.beam_args(10**12, user, cpu_count=2) == user


def test_input_bytes_sums_the_files_the_pattern_matches(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"x" * 100)
    (tmp_path / "b.csv").write_bytes(b"x" * 50)
    (tmp_path / "c.txt").write_bytes(b"x" * 7)
    assert beam_modes.input_bytes(str(tmp_path), "*.csv") == 150
    assert beam_modes.input_bytes(str(tmp_path), "a.csv") == 100


def test_the_built_pipeline_gets_the_chosen_args_or_the_users(tmp_path, monkeypatch):
    from pipelines import local

    monkeypatch.setattr(beam_modes.os, "cpu_count", lambda: 2)
    pipeline, _ = local.build("penguins", tmp_path / "auto")
    assert list(pipeline.beam_pipeline_args) == IN_MEMORY  # the embedded CSV is ~16 KB
    monkeypatch.setattr(beam_modes, "CROSSOVER_BYTES_2_CORES", 1)
    pipeline, _ = local.build("penguins", tmp_path / "large")
    assert list(pipeline.beam_pipeline_args) == MULTI
    user = ["--direct_running_mode=multi_threading"]
    pipeline, _ = local.build("penguins", tmp_path / "user", beam_args=user)
    assert list(pipeline.beam_pipeline_args) == user
