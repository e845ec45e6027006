"""The step benchmark's derived figures and the report of steps, pipelines and `make demo`,
on hand-made result documents (nothing is timed here)."""

import pytest

from benchmarks import measure, report, step_bench

HOST = {"cpu": "x", "cpu_count": 2, "memory_total_bytes": 2**34, "time": "now"}


def _seconds(value):
    return {"median": value, "min": value, "max": value, "n": 1}


def _step_row(loss, step, loss_alone, jit=False):
    return {
        "task": "tagging",
        "loss_name": loss,
        "reference": "SparseCategoricalCrossentropy",
        "batch_size": 32,
        "jit": jit,
        "status": "ok",
        "step_seconds": _seconds(step),
        "loss_seconds": _seconds(loss_alone),
    }


def test_share_is_the_loss_alone_over_its_step_and_ratio_is_against_the_keras_step():
    rows = [
        _step_row("MaskedSparseCategoricalCrossentropy", 0.010, 0.001),
        _step_row("SparseCategoricalCrossentropy", 0.008, 0.002),
        _step_row("MaskedSparseCategoricalCrossentropy", 0.004, 0.001, jit=True),
        {**_step_row("SparseCategoricalCrossentropy", 0, 0, jit=True), "status": "failed"},
    ]
    step_bench.derive(rows)
    assert rows[0]["loss_share"] == pytest.approx(0.1)
    assert rows[0]["step_ratio"] == pytest.approx(1.25)
    assert rows[1]["step_ratio"] == pytest.approx(1.0)
    assert "step_ratio" not in rows[2]  # its Keras counterpart failed
    assert rows[2]["loss_share"] == pytest.approx(0.25)


def test_report_renders_steps_pipelines_and_the_demo(tmp_path):
    rows = [
        _step_row("MaskedSparseCategoricalCrossentropy", 0.010, 0.001),
        _step_row("SparseCategoricalCrossentropy", 0.008, 0.002),
    ]
    step_bench.derive(rows)
    steps = {
        "kind": "steps",
        "device": {"kind": "cpu", "name": "cpu"},
        "host": HOST,
        "config": {"repeats": 3},
        "cases": rows,
    }
    executions = [{"component": "Transform", "state": "complete", "seconds": 4.0}]
    pipelines = {
        "kind": "pipelines",
        "host": HOST,
        "config": {"beam_mode": "auto", "epochs": None},
        "cases": [
            {
                "task": "penguins",
                "status": "ok",
                "wall_s": 50.0,
                "beam_args": [],
                "executions": executions,
            }
        ],
        "demo": {"git": "abc123", "venv": "symlinked", "wall_s": 71.4, "executions": executions},
    }
    measure.write_json(str(tmp_path / "steps-cpu.json"), steps)
    measure.write_json(str(tmp_path / "pipelines-cpu.json"), pipelines)
    text = report.render(str(tmp_path))
    assert "| tagging | 32 | no | MaskedSparseCategoricalCrossentropy | 10.00 ms" in text
    assert "| 1.25× | 1.00 ms | 10 % |" in text
    assert "Beam args chosen by `losskit run` from the data's size" in text
    assert "**71 s** wall" in text
    assert "| make demo | Transform | complete | 4.0 |" in text
    assert "| make demo | **make demo (wall)** |  | 71.4 |" in text
