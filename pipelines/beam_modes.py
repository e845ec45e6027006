"""Which of Beam's DirectRunner modes a local run uses, chosen from the input's size.

Kept free of TensorFlow / TFX imports so the benchmarks' parent processes and the CLI can use
it without paying for them.

On 2 cores (benchmarks/results/transform-cpu.json) the multi-processing DirectRunner spends
~15 s starting its workers (each imports TensorFlow) and then processes examples only ~1.4×
as fast as one in-memory process, so small inputs run several times faster in_memory. The
crossover is measured in bytes of input on 2 cores; other core counts scale it by the model
below (not measured): a run costs `start + bytes / rate` in memory and
`start + overhead + bytes / (rate · efficiency · workers)` over `workers` processes.
"""

from __future__ import annotations

import glob
import os

IN_MEMORY = "in_memory"
MULTI_PROCESSING = "multi_processing"
MODES = {
    IN_MEMORY: ("--direct_running_mode=in_memory", "--direct_num_workers=1"),
    # 0 workers: Beam starts one per core.
    MULTI_PROCESSING: ("--direct_running_mode=multi_processing", "--direct_num_workers=0"),
}

# Measured on 2 cores with benchmarks/transform_bench.py (tagging HMM TFRecords, 2026-12-02):
# in_memory 42.2 s / 130.8 s and multi_processing 48.3 s / 108.4 s at 27.9 MB / 93.0 MB of
# input; the lines through those points cross at 41.8 MB (≈ 300k examples).
CROSSOVER_BYTES_2_CORES = 40 * 2**20
# Marginal rate of 2 worker processes ÷ (2 × the in-memory rate), same measurement
# (1.362 s/MB in memory against 0.925 s/MB over 2 processes).
PARALLEL_EFFICIENCY = 0.74


def crossover_bytes(cpu_count: int) -> float:
    """Input size above which multi_processing is expected to finish first on `cpu_count`
    cores; infinite on one core, where extra processes only add start-up."""
    speedup = PARALLEL_EFFICIENCY * cpu_count
    if speedup <= 1:
        return float("inf")
    measured = 1 - 1 / (PARALLEL_EFFICIENCY * 2)
    return CROSSOVER_BYTES_2_CORES * measured / (1 - 1 / speedup)


def choose(data_bytes: int | None, cpu_count: int | None = None) -> str:
    """The running mode for an input of `data_bytes` (None: unknown size, e.g. remote data
    that is not listed here, which keeps the mode that scales)."""
    cpu_count = cpu_count or os.cpu_count() or 1
    if data_bytes is not None and data_bytes < crossover_bytes(cpu_count):
        return IN_MEMORY
    return MULTI_PROCESSING


def input_bytes(base: str, pattern: str) -> int | None:
    """Bytes of the local files ExampleGen will read (`base`/`pattern`); None for remote
    data, whose size is not looked up."""
    if "://" in base:
        return None
    return sum(os.path.getsize(path) for path in glob.glob(os.path.join(base, pattern)))


def beam_args(data_bytes: int | None, user_args=None, cpu_count: int | None = None) -> list:
    """The user's Beam args unchanged when given (they replace the choice wholesale, since a
    different runner takes different flags), else the chosen mode's."""
    if user_args:
        return list(user_args)
    return list(MODES[choose(data_bytes, cpu_count)])
