"""Pipeline wall time per component: run whole task pipelines with TFX's BeamDagRunner and read
each component execution's duration back from ML Metadata (``pipelines.results.executions``:
last update − creation time of the execution, as MLMD recorded them).

Each task runs in a spawned child process, in a fresh root under the work directory, with its
own default epochs unless told otherwise, through the calls `losskit run` makes
(``pipelines.local.build`` then ``execute``); in the default ``auto`` mode no Beam args are
passed, so the DirectRunner mode is the one `losskit run` chooses from the data's size. The
child also reports the whole run's wall time, which includes what no component owns (DAG
start-up, imports, MLMD), the Beam args the run got, the blessing and the task's headline
metrics.

``demo`` times ``make demo`` in a fresh clone of the repository (see its docstring).
"""

import os
import shutil
import subprocess
import time

from benchmarks import measure
from pipelines.beam_modes import MODES

AUTO = "auto"
BEAM_MODES = (AUTO, *MODES)


# The metrics each task's e2e test holds to a floor, recorded beside the timings.
HEADLINE_METRICS = (
    "auc/macro",
    "accuracy",
    "species/auc/macro",
    "species/accuracy",
    "body_mass/mean_squared_error",
    "masked_token_accuracy",
    "sequence_ccc",
    "sequence_pearson",
    "ranking_loss",
    "hamming_loss",
    "auc/micro",
)


def run_task(task, root, beam_mode, epochs):
    """Child-process body: one pipeline run; its wall seconds and (component, state, seconds)
    per execution."""
    from pipelines import local, tasks

    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    # As `losskit run TASK [--epochs N] [-- BEAM_ARGS]` calls them.
    spec = tasks.load(task).with_overrides(epochs=epochs)
    pipeline, layout = local.build(
        spec, root, beam_args=None if beam_mode == AUTO else list(MODES[beam_mode])
    )
    local.execute(pipeline, layout, orchestrator="beam", progress=True)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "beam_args": list(pipeline.beam_pipeline_args), **outcome(layout)}


def outcome(layout):
    """Blessing, headline metrics and per-component seconds of the run MLMD recorded."""
    from pipelines import results

    executions = results.executions(layout.metadata_path, layout.pipeline_name)
    evaluation = results.evaluation(layout.metadata_path, layout.pipeline_name)
    overall = evaluation.overall()
    return {
        "blessed": evaluation.blessed,
        "metrics": {key: overall[key] for key in HEADLINE_METRICS if key in overall},
        "executions": [
            {"component": row.component, "state": row.state, "seconds": row.seconds}
            for row in executions
        ],
    }


def run(work_dir, tasks, beam_mode, epochs, timeout):
    """Runs each task's pipeline once and returns the results document."""
    runner = measure.ChildRunner("spawn")
    started = time.time()
    host = measure.host_info()
    rows = []
    for task in tasks:
        row = {"task": task, "beam_mode": beam_mode, "epochs": epochs}
        result = runner.run(
            "benchmarks.pipeline_bench:run_task",
            {
                "task": task,
                "root": os.path.join(work_dir, "pipelines", task),
                "beam_mode": beam_mode,
                "epochs": epochs,
            },
            timeout=timeout,
        )
        if result["ok"]:
            row.update(status="ok", **result["value"])
            components = ", ".join(
                f"{e['component']} {e['seconds']:.1f} s" for e in row["executions"]
            )
            measure.log(f"pipeline {task}: {row['wall_s']:.0f} s wall; {components}")
        else:
            row.update(status="failed", note=f"failed: {result['error']}")
            measure.log(f"pipeline {task}: {row['note']}")
        rows.append(row)
    return {
        "kind": "pipelines",
        "host": host,
        "config": {
            "beam_mode": beam_mode,
            "epochs": epochs,
            "load_average_end": list(os.getloadavg()),
            "wall_s": time.time() - started,
        },
        "cases": rows,
    }


def demo(work_dir, source, timeout):
    """``make demo`` timed in a fresh clone of ``source``'s HEAD: wall seconds of the whole make
    (`losskit run penguins` and `losskit report`), and the run's components from its MLMD.

    The clone reuses ``source``'s virtual environment through a ``.venv`` symlink, with make told
    that the environment is up to date (``-o .venv/.synced``: `uv sync` would otherwise
    reinstall the project, editable, from the clone into the shared environment) and
    ``PYTHONPATH`` set to the clone, so the clone's code runs rather than the editable install's.
    Set-up (creating the environment) is therefore not in the time.
    """
    clone = os.path.join(work_dir, "democlone")
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", source, clone], check=True)
    revision = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
    ).stdout.strip()
    os.symlink(os.path.join(source, ".venv"), os.path.join(clone, ".venv"))
    env = {**os.environ, "PYTHONPATH": clone}
    log_path = os.path.join(work_dir, "demo.log")
    start = time.perf_counter()
    with open(log_path, "w") as log:
        subprocess.run(
            ["make", "-o", ".venv/.synced", "demo"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=timeout,
        )
    wall = time.perf_counter() - start
    result = measure.ChildRunner("spawn").run(
        "benchmarks.pipeline_bench:demo_outcome",
        {"root": os.path.join(clone, "runs", "demo")},
        timeout=600,
    )
    if not result["ok"]:
        raise RuntimeError(f"reading the demo's MLMD: {result['error']}")
    measure.log(f"make demo: {wall:.0f} s wall (log {log_path})")
    return {
        "command": "make -o .venv/.synced demo",
        "git": revision,
        "venv": "symlink to the source checkout's .venv; PYTHONPATH=<clone>",
        "wall_s": wall,
        **result["value"],
    }


def demo_outcome(root):
    """Child-process body: the demo run's outcome, read from MLMD under ``root``."""
    from pipelines import local

    return outcome(local.RunLayout(root, "penguins"))
