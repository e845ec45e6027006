"""The loss benchmark plan and its runner: which shapes, in which order, what to skip, and the
ratios and bandwidth figures derived from the measurements.

This module does not import TensorFlow: every measurement runs in a child process forked from a
server that has imported :mod:`benchmarks.loss_cases` (see :mod:`benchmarks.measure`). Within one shape
and jit setting the implementations run back to back, so their ratios see the same machine load.

Skipping. Implementations whose memory grows with the square of a dimension (the BP-MLL
baselines, in L) are extrapolated from their previous, smaller shape in the same run:
memory and time × (L / L_prev)². A shape whose estimated peak exceeds the memory budget, or
whose estimated case time exceeds the case timeout, is recorded as skipped with the estimate,
rather than run into an out-of-memory kill. Without a previous shape the estimate is
``PAIR_TENSORS_LIVE`` float32 (B, L, L) tensors.
"""

import math
import os
import shutil
import subprocess
import time

from benchmarks import measure

PRELOAD = ("benchmarks.loss_cases",)
# Shapes per family: (default, --quick). Keep the default run within ~10 min on 2 busy cores.
SHAPES = {
    "bpmll": (
        [{"B": 32, "L": n} for n in (18, 256, 1024, 4096)],
        [{"B": 32, "L": n} for n in (18, 1024, 4096)],
    ),
    "masked_ce": (
        [
            {"B": 32, "T": 128, "V": 1024},
            {"B": 32, "T": 512, "V": 1024},
            {"B": 32, "T": 512, "V": 8192},
        ],
        [{"B": 32, "T": 128, "V": 1024}, {"B": 32, "T": 512, "V": 8192}],
    ),
    "masked_cce": (
        [
            {"B": 32, "T": 128, "V": 1024},
            {"B": 32, "T": 512, "V": 1024},
            {"B": 32, "T": 512, "V": 8192},
        ],
        [{"B": 32, "T": 128, "V": 1024}, {"B": 32, "T": 512, "V": 8192}],
    ),
    "correlation": (
        [{"B": 64, "T": 1024}, {"B": 1024, "T": 16384}],
        [{"B": 1024, "T": 16384}],
    ),
    "gmm": (
        [{"B": 64, "T": 256, "K": 4}, {"B": 256, "T": 1024, "K": 32}],
        [{"B": 256, "T": 1024, "K": 32}],
    ),
}
FAMILIES = tuple(SHAPES)
# Estimate for a quadratic implementation with no smaller shape measured: the pairwise form
# without XLA keeps this many (B, L, L) float32 tensors live (measured at L=4096).
PAIR_TENSORS_LIVE = 4
MIN_RATIO_BYTES = 2**20
# Calls a case makes besides its timed repeats: first (RSS) call, allocator call, autorange call.
UNTIMED_CALLS = 3
# The CPU machines this runs on are shared: a case that takes 8 GB can push a colleague's test
# run out of memory, so the pairwise BP-MLL at L=4096 (≈8.6 GB) needs --max-mem-gb to run.
CPU_BUDGET_BYTES = 6 * 10**9
PROBE_BYTES = {"cpu": 256 * 2**20, "gpu": 2**30}


def shape_label(shape):
    return "(" + ", ".join(f"{dim}={value}" for dim, value in shape.items()) + ")"


def gpu_memory_bytes():
    """Total memory of GPU 0 from nvidia-smi, or None (the parent does not start CUDA)."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        return int(out.split()[0]) * 2**20
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def memory_budget(device, max_mem_gb):
    """Bytes a single case may use: ``--max-mem-gb``, else on CPU the smaller of
    ``CPU_BUDGET_BYTES`` and half of MemAvailable, on GPU 85 % of its memory."""
    if max_mem_gb is not None:
        return int(max_mem_gb * 1e9)
    if device == "gpu":
        total = gpu_memory_bytes()
        return int(0.85 * total) if total else int(16e9)
    return min(CPU_BUDGET_BYTES, measure.memory_available_bytes() // 2)


def skip_reason(row, done, quadratic_dim, budget, case_timeout, repeats):
    """Why a quadratic case should not run, or None. ``done``: the rows measured so far."""
    shape = row["shape"]
    value = shape[quadratic_dim]
    smaller = [
        other
        for other in done
        if other["status"] == "ok"
        and (other["family"], other["impl"], other["jit"])
        == (row["family"], row["impl"], row["jit"])
        and other["shape"][quadratic_dim] < value
        and all(other["shape"][d] == shape[d] for d in shape if d != quadratic_dim)
    ]
    pair_tensor = 4 * math.prod(shape[d] for d in shape if d != quadratic_dim) * value**2
    if smaller:
        # Tensor bytes (the allocator's peak) scale with the shape; RSS also holds a fixed
        # XLA-compilation share that does not, so it would overstate small shapes' growth.
        previous = max(smaller, key=lambda other: other["shape"][quadratic_dim])
        growth = (value / previous["shape"][quadratic_dim]) ** 2
        need = previous["peak_alloc_bytes"] * growth
        per_call = previous["seconds"]["median"] * growth
        basis = (
            f"{previous['peak_alloc_bytes'] / 1e9:.2f} GB at {quadratic_dim}="
            f"{previous['shape'][quadratic_dim]} × {growth:.0f}"
        )
    else:
        need, per_call = PAIR_TENSORS_LIVE * pair_tensor, None
        basis = f"{PAIR_TENSORS_LIVE} × (B,{quadratic_dim},{quadratic_dim}) float32"
    if need > budget:
        return (
            f"skipped: would need ≈{need / 1e9:.1f} GB ({basis}; one (B,{quadratic_dim},"
            f"{quadratic_dim}) float32 tensor is {pair_tensor / 1e9:.2f} GB), budget"
            f" {budget / 1e9:.1f} GB"
        )
    if per_call is not None and per_call * (UNTIMED_CALLS + repeats) > case_timeout:
        return (
            f"skipped: would take ≈{per_call:.0f} s per call (× {UNTIMED_CALLS + repeats} calls"
            f" > case timeout {case_timeout:.0f} s)"
        )
    return None


def derive(rows, reference_gbps):
    """Adds the ratios to the family's reference (same shape and jit) and the achieved bandwidth.

    Time ratios of medians and of minima (the least disturbed repeat on a busy machine); memory
    ratios of allocator peaks, which hold no XLA compilation, and only where both are at least
    ``MIN_RATIO_BYTES`` (small tensors partly bypass the allocator's statistics).
    """
    for row in rows:
        if row["status"] != "ok":
            continue
        median = row["seconds"]["median"]
        row["achieved_gbps"] = row["min_bytes"] / median / 1e9
        row["bandwidth_fraction"] = row["achieved_gbps"] / reference_gbps
        reference = next(
            (
                other
                for other in rows
                if other["status"] == "ok"
                and other["impl"] == row["reference"]
                and (other["family"], other["shape"], other["jit"])
                == (row["family"], row["shape"], row["jit"])
            ),
            None,
        )
        if reference is not None:
            row["time_ratio"] = median / reference["seconds"]["median"]
            row["time_ratio_min"] = row["seconds"]["min"] / reference["seconds"]["min"]
            if min(row["peak_alloc_bytes"], reference["peak_alloc_bytes"]) >= MIN_RATIO_BYTES:
                row["memory_ratio"] = row["peak_alloc_bytes"] / reference["peak_alloc_bytes"]


def run(device, families, quick, repeats, min_time, max_mem_gb, case_timeout):
    """Runs the loss benchmarks and returns the results document (see run.py for the file)."""
    runner = measure.ChildRunner("forkserver", preload=PRELOAD)
    started = time.time()
    host = measure.host_info()
    probe = runner.run(
        "benchmarks.loss_cases:probe",
        {"device": device, "size_bytes": PROBE_BYTES[device], "repeats": repeats},
        timeout=case_timeout,
    )
    if not probe["ok"]:
        raise SystemExit(f"benchmarks: {probe['error']}")
    probe = probe["value"]
    budget = memory_budget(device, max_mem_gb)
    measure.log(
        f"device {probe['device']['name']}: copy bandwidth "
        + ", ".join(f"{k} {v:.1f} GB/s" for k, v in probe["bandwidth"]["copy_gbps"].items())
        + f"; memory budget per case {budget / 1e9:.1f} GB"
    )
    rows = []
    for family in families:
        impls = probe["families"][family]["impls"]
        quadratic = probe["families"][family]["quadratic"]
        for shape in SHAPES[family][1 if quick else 0]:
            for jit in (False, True):
                for impl in impls:
                    row = {
                        "family": family,
                        "impl": impl,
                        "reference": impls[0],
                        "shape": shape,
                        "jit": jit,
                    }
                    reason = None
                    if impl in quadratic:
                        reason = skip_reason(
                            row, rows, quadratic[impl], budget, case_timeout, repeats
                        )
                    if reason:
                        row.update(status="skipped", note=reason)
                    else:
                        result = runner.run(
                            "benchmarks.loss_cases:run_case",
                            {
                                "family": family,
                                "impl": impl,
                                "shape": shape,
                                "jit": jit,
                                "device": device,
                                "repeats": repeats,
                                "min_time": min_time,
                            },
                            timeout=case_timeout,
                        )
                        if result["ok"]:
                            row.update(status="ok", **result["value"])
                        else:
                            row.update(status="failed", note=f"failed: {result['error']}")
                    rows.append(row)
                    measure.log(_progress(row))
    derive(rows, probe["bandwidth"]["reference_gbps"])
    return {
        "kind": "losses",
        "device": probe["device"],
        "host": host,
        "config": {
            "quick": quick,
            "repeats": repeats,
            "min_time_s": min_time,
            "memory_budget_bytes": budget,
            "case_timeout_s": case_timeout,
            "load_average_end": list(os.getloadavg()),
            "wall_s": time.time() - started,
        },
        "bandwidth": probe["bandwidth"],
        "cases": rows,
    }


def _progress(row):
    where = f"{row['family']:<11} {row['impl']:<36} {shape_label(row['shape']):<22} jit={row['jit']!s:<5}"
    if row["status"] != "ok":
        return f"{where} {row['note']}"
    seconds = row["seconds"]
    return (
        f"{where} {seconds['median'] * 1e3:9.3f} ms ({seconds['min'] * 1e3:.3f}–"
        f"{seconds['max'] * 1e3:.3f})  alloc {row['peak_alloc_bytes'] / 2**20:8.1f} MiB"
        + (f"  rss {row['peak_rss_bytes'] / 2**20:8.1f} MiB" if "peak_rss_bytes" in row else "")
    )


def results_name(document, kind="losses"):
    """``<kind>-cpu.json`` or ``<kind>-gpu-<device name>.json`` (kind: losses, steps)."""
    device = document["device"]
    if device["kind"] == "cpu":
        return f"{kind}-cpu.json"
    return f"{kind}-gpu-{slug(device['name'])}.json"


def slug(text):
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())
