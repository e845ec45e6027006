"""Training-step benchmark: one optimizer step of a shipped task's model with our loss against
the Keras loss a user would otherwise take, and the loss's share of that step.

Per (task, loss, batch size, jit) a child process forked from a server that has imported
:mod:`benchmarks.step_cases` builds the model as the Trainer does and times Keras's train
function on one synthetic batch, then the loss's forward + backward alone on the model's output
(same shapes, same mask, same jit setting). **Share** = loss time ÷ step time; the loss alone is
its own ``tf.function`` call, so on small shapes the share includes one call's dispatch.

This module does not import TensorFlow (see :mod:`benchmarks.losses_bench` for why).
"""

import os
import time

from benchmarks import losses_bench, measure

PRELOAD = ("benchmarks.step_cases",)
# task → (our loss, the Keras loss compared), both resolved as the Trainer resolves a spec's.
TASKS = {
    "tagging": ("MaskedSparseCategoricalCrossentropy", "SparseCategoricalCrossentropy"),
    "correlation": ("ConcordanceCorrelationLoss", "MeanSquaredError"),
    "multilabel": ("BPMLLLoss", "BinaryCrossentropy"),
}
# 32: every shipped spec's trainer.batch_size; 256: a common larger batch.
BATCH_SIZES = (32, 256)


def run(device, tasks, batch_sizes, repeats, min_time, case_timeout):
    """Every (task, loss, batch size, jit) case; returns the results document."""
    runner = measure.ChildRunner("forkserver", preload=PRELOAD)
    started = time.time()
    host = measure.host_info()
    rows = []
    details = None
    for task in tasks:
        for batch_size in batch_sizes:
            for jit in (False, True):
                for loss in TASKS[task]:
                    row = {
                        "task": task,
                        "loss_name": loss,
                        "reference": TASKS[task][1],
                        "batch_size": batch_size,
                        "jit": jit,
                    }
                    result = runner.run(
                        "benchmarks.step_cases:run_case",
                        {
                            "task": task,
                            "loss_name": loss,
                            "batch_size": batch_size,
                            "jit": jit,
                            "device": device,
                            "repeats": repeats,
                            "min_time": min_time,
                        },
                        timeout=case_timeout,
                    )
                    if result["ok"]:
                        value = result["value"]
                        details = value.pop("device")
                        row.update(status="ok", **value)
                    else:
                        row.update(status="failed", note=f"failed: {result['error']}")
                    rows.append(row)
                    measure.log(_progress(row))
    derive(rows)
    return {
        "kind": "steps",
        "device": details or {"kind": device, "name": device},
        "host": host,
        "config": {
            "repeats": repeats,
            "min_time_s": min_time,
            "case_timeout_s": case_timeout,
            "load_average_end": list(os.getloadavg()),
            "wall_s": time.time() - started,
        },
        "cases": rows,
    }


def derive(rows):
    """The loss's share of its step, and each step's time ÷ the Keras loss's step (same task,
    batch size and jit)."""
    ok = [row for row in rows if row["status"] == "ok"]
    for row in ok:
        step = row["step_seconds"]["median"]
        row["loss_share"] = row["loss_seconds"]["median"] / step
        reference = reference_of(row, ok)
        if reference is not None:
            row["step_ratio"] = step / reference["step_seconds"]["median"]


def reference_of(row, rows):
    """The row of ``row``'s Keras loss among ``rows`` (same task, batch size and jit), or None."""
    return next(
        (
            other
            for other in rows
            if other["loss_name"] == row["reference"]
            and (other["task"], other["batch_size"], other["jit"])
            == (row["task"], row["batch_size"], row["jit"])
        ),
        None,
    )


def results_name(document):
    """``steps-cpu.json`` or ``steps-gpu-<device name>.json``."""
    return losses_bench.results_name(document, "steps")


def _progress(row):
    where = (
        f"step {row['task']:<11} {row['loss_name']:<36} B={row['batch_size']:<4}"
        f" jit={row['jit']!s:<5}"
    )
    if row["status"] != "ok":
        return f"{where} {row['note']}"
    return (
        f"{where} step {row['step_seconds']['median'] * 1e3:8.2f} ms"
        f"  loss {row['loss_seconds']['median'] * 1e3:7.3f} ms"
    )
