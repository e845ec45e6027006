"""Pipeline wall time per component: run whole task pipelines with TFX's BeamDagRunner and read
each component execution's duration back from ML Metadata (``pipelines.results.executions``:
last update − creation time of the execution, as MLMD recorded them).

Each task runs in a spawned child process, in a fresh root under the work directory, with its
own default epochs unless told otherwise; the child also reports the whole run's wall time,
which includes what no component owns (DAG start-up, imports, MLMD), the blessing and the
task's headline metrics.
"""

import os
import shutil
import time

from benchmarks import measure

BEAM_MODES = {
    "in_memory": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    "multi_processing": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
}


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
    from pipelines import local, results

    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    layout = local.run(
        task, root, orchestrator="beam", beam_args=BEAM_MODES[beam_mode], epochs=epochs
    )
    wall = time.perf_counter() - start
    executions = results.executions(layout.metadata_path, layout.pipeline_name)
    evaluation = results.evaluation(layout.metadata_path, layout.pipeline_name)
    overall = evaluation.overall()
    return {
        "wall_s": wall,
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
            "beam_args": BEAM_MODES[beam_mode],
            "epochs": epochs,
            "load_average_end": list(os.getloadavg()),
            "wall_s": time.time() - started,
        },
        "cases": rows,
    }
