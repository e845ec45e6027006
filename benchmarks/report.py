"""Markdown tables from the result files in ``benchmarks/results/`` (``python -m benchmarks.run
--markdown`` rewrites ``benchmarks/results/README.md`` from them without measuring anything)."""

import glob
import os
import re

from benchmarks import balancers_bench, measure, step_bench

FAMILY_TITLES = {
    "bpmll": "BP-MLL: factorised vs pairwise (B, L, L) vs per-sample loop",
    "masked_ce": "Masked sparse cross-entropy vs Keras ignore_class vs unmasked",
    "masked_cce": "Masked one-hot cross-entropy vs Keras CategoricalCrossentropy + sample_weight",
    "correlation": "Correlation losses vs MSE",
    "gmm": "Gaussian-mixture curve loss: vectorised vs per-component loop",
}
# Why each family sits where it does against copy bandwidth (issue 15: anything under 25 % of it
# with XLA is explained here). Reasons, not numbers: the numbers are in the tables.
FAMILY_NOTES = {
    "bpmll": "The factorised loss moves only B·L scores and labels in and one gradient out"
    " (1.5 MB at L=4096), which sits in cache: its time is one `tf.function` call's fixed"
    " cost (~0.35 ms here at L=18) plus two exp / log-sum-exp passes, so GB/s measures"
    " latency, not bandwidth. The pairwise and loop forms are what it replaces.",
    "masked_ce": "The floor is one read of the logits and one write of their gradient, but a"
    " softmax needs a max, an exp and a sum per row before the gradient can be written:"
    " at least two reads of (B, T, V) and one exp per element, on 2 cores. Keras's own"
    " unmasked loss (TF's fused `SparseSoftmaxCrossEntropyWithLogits` kernel) is the best"
    " these ops reach and lands in the same band; the masked losses are measured against it.",
    "masked_cce": "The same softmax floor as the sparse loss, plus one read of the (B, T, V)"
    " one-hot targets (Σ y·x for the value, p − y for the gradient). Under XLA both"
    " implementations run TF's fused `SoftmaxCrossEntropyWithLogits` kernel, which XLA fuses"
    " further; ours adds only the select at padded tokens, so parity is the ceiling there.",
    "correlation": "MSE is one elementwise pass each way. A correlation needs each"
    " sequence's moments before any gradient exists. Without XLA every TF op is a pass: the"
    " shift to an observed value (so a constant sequence has exactly zero variance) writes"
    " one fresh (B, T) tensor per series and the covariance's product a third, where MSE"
    " writes about two; the means, the centring (into the shifted buffers), the sums of"
    " squares (`EuclideanNorm`, reads only) and the closed-form gradient (into the"
    " deviations' buffers) add reads. The max-abs scaling that keeps float32 squares finite"
    " runs only for a batch with a sequence out of range (`tf.cond`). Under XLA everything"
    " fuses, but XLA's CPU loops for row reductions over fused inputs run at ~5 GB/s"
    " (Σx² 9.4 ms, max |x| 16 ms, against 3.2 ms for a plain Σx at (1024, 16384)), and the"
    " loss needs seven of them (two means, three second moments, the scales), where MSE"
    " needs one; a cond there would have XLA reserve the fallback's temporaries (4.8× MSE's"
    " peak), so under XLA the series are always scaled. Padding (the `(padded)` rows) adds"
    " the mask, the count of real steps, the selects that keep garbage at padded steps out"
    " of values and gradients, and the mask multiply of the deviations.",
    "gmm": "Compute-bound: B·T·K Gaussian evaluations (an exp each, forward and backward)"
    " against B·(T + 3K) numbers in and out, so GB/s of the inputs is not the limit; the"
    " per-component loop is what it replaces.",
}
METHOD = """\
How these were measured (see `benchmarks/measure.py`):

- Each loss case (implementation × shape × jit) runs forward + backward
  (`GradientTape` inside one `tf.function`) in a child process of its own, forked from a server
  that has only imported TensorFlow. Times are per call: median and min–max over the repeats,
  each repeat as many calls as fill `min_time`. On a GPU the clock stops after
  `tf.test.experimental.sync_devices()`.
- **peak tensors**: TensorFlow allocator peak above the live inputs over one steady-state call
  (`tf.config.experimental.reset_memory_stats` / `get_memory_info`, CPU and GPU alike).
  **peak RSS Δ** (CPU): `VmHWM` (reset through `/proc/self/clear_refs`) minus `VmRSS` around the
  first call in the fresh process; it includes XLA compilation (~40–80 MB) and allocator
  rounding, so it only separates implementations at large shapes.
- **× ref**: this implementation ÷ the first one of its table, same shape and jit setting
  (memory from peak tensors).
- **GB/s**: the minimum traffic (inputs read once, gradient written once) ÷ median time;
  **% copy** compares it with the best copy bandwidth measured on the same device in the same run.
- Cases run one after another on a shared, noisy machine: compare numbers within one table,
  not across runs or machines.
"""


def _time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _bytes(value):
    if value is None:
        return "–"
    if abs(value) >= 2**30:
        return f"{value / 2**30:.2f} GiB"
    if abs(value) >= 2**20:
        return f"{value / 2**20:.1f} MiB"
    return f"{value / 2**10:.0f} KiB"


def _ratio(value):
    if value is None:
        return "–"
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def _percent(fraction):
    return "<1 %" if fraction < 0.01 else f"{100 * fraction:.0f} %"


def _timing(row):
    s = row["seconds"]
    return f"{_time(s['median'])} ({_time(s['min'])}–{_time(s['max'])})"


def _note(note, limit=200):
    """A skip / failure note fit for one table cell: a multi-line error keeps its first line and
    the last line that names an exception (TensorFlow puts the cause there), pipes escaped."""
    lines = [line.strip() for line in note.splitlines() if line.strip()]
    causes = [line for line in lines[1:] if re.match(r"[\w.]*(Error|Exception)\b", line)]
    text = lines[0] if len(lines) == 1 else f"{lines[0]} … {(causes or lines)[-1]}"
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _shape(shape):
    return ", ".join(f"{dim}={value}" for dim, value in shape.items())


def _host_line(document):
    host = document["host"]
    config = document.get("config", {})
    load = host.get("load_average", [None])[0]
    end = config.get("load_average_end", [None])[0]
    parts = [
        f"{host['cpu']} × {host['cpu_count']} cores",
        f"{host['memory_total_bytes'] / 2**30:.0f} GiB",
        f"load {load:.1f} → {end:.1f}" if load is not None and end is not None else None,
        f"git {host['git']}" if host.get("git") else None,
        host["time"],
    ]
    if config.get("wall_s"):
        parts.append(f"run took {config['wall_s'] / 60:.1f} min")
    return "; ".join(part for part in parts if part)


def losses_section(document):
    device = document["device"]
    config = document["config"]
    title = "CPU" if device["kind"] == "cpu" else f"GPU {device['name']}"
    bandwidth = document["bandwidth"]
    copies = ", ".join(f"{k} {v:.1f}" for k, v in bandwidth["copy_gbps"].items())
    lines = [
        f"## Losses on {title}",
        "",
        f"TensorFlow {device['tensorflow']}; {_host_line(document)}; "
        f"{config['repeats']} repeats{' (--quick)' if config['quick'] else ''}. "
        f"Copy bandwidth (GB/s, read + write): {copies}.",
        "",
        _headlines(document["cases"]),
    ]
    rss = device["kind"] == "cpu"
    for family, title in FAMILY_TITLES.items():
        rows = [row for row in document["cases"] if row["family"] == family]
        if not rows:
            continue
        header = ["shape", "XLA", "implementation", "time (min–max)", "× ref", "peak tensors"]
        header += ["peak RSS Δ"] if rss else []
        header += ["mem × ref", "GB/s", "% copy"]
        body = []
        for row in rows:
            cells = [_shape(row["shape"]), "yes" if row["jit"] else "no", row["impl"]]
            if row["status"] != "ok":
                cells += [_note(row["note"])] + ["–"] * (len(header) - 4)
            else:
                cells += [
                    _timing(row),
                    _ratio(row.get("time_ratio")),
                    _bytes(row["peak_alloc_bytes"]),
                ]
                cells += [_bytes(row.get("peak_rss_bytes"))] if rss else []
                cells += [
                    _ratio(row.get("memory_ratio")),
                    f"{row['achieved_gbps']:.2f}",
                    _percent(row["bandwidth_fraction"]),
                ]
            body.append(cells)
        lines += ["", f"### {title}", "", _table(header, body)]
        if family in FAMILY_NOTES:
            lines += ["", FAMILY_NOTES[family]]
    return "\n".join(lines)


def _headlines(rows):
    """Per non-reference implementation, its time and memory ratios at each shape it ran."""
    body = []
    seen = []
    for row in rows:
        key = (row["family"], row["impl"], tuple(row["shape"].items()))
        if row["impl"] == row["reference"] or key in seen:
            continue
        seen.append(key)
        pair = {
            other["jit"]: other
            for other in rows
            if (other["family"], other["impl"], tuple(other["shape"].items())) == key
        }
        cells = [f"{row['impl']} ÷ {row['reference']}", _shape(row["shape"])]
        for jit in (False, True):
            other = pair.get(jit)
            if other is None or other["status"] != "ok":
                cells += ["skipped" if other and other["status"] == "skipped" else "–"] * 2
            else:
                time_ratio = (
                    f"{_ratio(other.get('time_ratio'))} ({_ratio(other.get('time_ratio_min'))})"
                )
                cells += [time_ratio, _ratio(other.get("memory_ratio"))]
        body.append(cells)
    header = ["comparison", "shape", "time ×", "memory ×", "time × (XLA)", "memory × (XLA)"]
    return (
        "Ratios A ÷ B, forward + backward (above 1: B is faster / smaller). Time: ratio of"
        " medians (ratio of minima); memory: allocator peaks, – where either is under 1 MiB.\n\n"
        + _table(header, body)
    )


def transform_section(document):
    lines = [
        "## Transform throughput (tagging preprocessing_fn, HMM sequences, DirectRunner)",
        "",
        _host_line(document) + f"; {document['config']['repeats']} repeats.",
        "",
    ]
    header = [
        "examples",
        "Beam mode",
        "wall (min–max)",
        "examples/s",
        "marginal examples/s",
        "speed-up vs in_memory",
    ]
    body = []
    for row in document["cases"]:
        cells = [f"{row['num_examples']:,}", f"`{' '.join(row['beam_args'])}`"]
        if row["status"] != "ok":
            cells += [_note(row["note"]), "–", "–", "–"]
        else:
            marginal = row.get("marginal_examples_per_s")
            cells += [
                _timing(row),
                f"{row['examples_per_s']:,.0f}",
                f"{marginal:,.0f}" if marginal else "–",
                _ratio(row.get("speedup_vs_in_memory")),
            ]
        body.append(cells)
    lines.append(_table(header, body))
    lines += [
        "",
        "Wall time covers the whole Beam pipeline (construction, preprocessing_fn tracing, worker"
        " start-up, analyse, transform, encode and write); marginal = extra examples ÷ extra"
        " seconds from the next smaller size, i.e. the rate once start-up is paid.",
    ]
    return "\n".join(lines)


def _component_rows(task, row, total_label):
    rows = [
        [task, execution["component"], execution["state"], f"{execution['seconds']:.1f}"]
        for execution in row["executions"]
    ]
    return rows + [[task, f"**{total_label}**", "", f"{row['wall_s']:.1f}"]]


def pipelines_section(document):
    config = document["config"]
    epochs = config["epochs"] or "each task's default"
    mode = config.get("beam_mode", "auto")
    how = (
        "Beam args chosen by `losskit run` from the data's size"
        if mode == "auto"
        else f"Beam mode {mode} forced"
    )
    lines = [
        "## Pipeline components (BeamDagRunner, seconds from ML Metadata)",
        "",
        f"{_host_line(document)}; {how}; {epochs} epochs.",
        "",
    ]
    body = []
    for row in document["cases"]:
        if row["status"] != "ok":
            body.append([row["task"], _note(row["note"]), "–", "–"])
            continue
        body += _component_rows(row["task"], row, "whole run (wall)")
    lines.append(_table(["task", "component", "state", "seconds"], body))
    args = [
        [row["task"], f"`{' '.join(row['beam_args'])}`"]
        for row in document["cases"]
        if row["status"] == "ok" and "beam_args" in row
    ]
    if args:
        lines += ["", _table(["task", "Beam args the run got"], args)]
    demo = document.get("demo")
    if demo:
        lines += [
            "",
            f"`make demo` from a fresh clone (git {demo['git']}; {demo['venv']}; environment"
            f" set-up not timed): **{demo['wall_s']:.0f} s** wall for `losskit run penguins`"
            " and `losskit report`; its components:",
            "",
            _table(
                ["run", "component", "state", "seconds"],
                _component_rows("make demo", demo, "make demo (wall)"),
            ),
        ]
    outcomes = [
        [
            row["task"],
            "yes" if row.get("blessed") else "no",
            ", ".join(f"{key} {value:.3f}" for key, value in row.get("metrics", {}).items()),
        ]
        for row in document["cases"]
        if row["status"] == "ok" and "metrics" in row
    ]
    if outcomes:
        lines += ["", _table(["task", "blessed", "overall metrics (TFMA)"], outcomes)]
    return "\n".join(lines)


def steps_section(document):
    device = document["device"]
    title = "CPU" if device["kind"] == "cpu" else f"GPU {device['name']}"
    config = document["config"]
    lines = [
        f"## Training steps on {title} (shipped task models, ours vs the Keras loss)",
        "",
        f"{_host_line(document)}; {config['repeats']} repeats.",
        "",
    ]
    header = [
        "task",
        "batch",
        "XLA",
        "loss",
        "step (min–max)",
        "× Keras step",
        "loss fwd+bwd alone",
        "loss share",
    ]
    body = []
    for row in document["cases"]:
        cells = [row["task"], row["batch_size"], "yes" if row["jit"] else "no", row["loss_name"]]
        if row["status"] != "ok":
            cells += [_note(row["note"])] + ["–"] * 3
        else:
            cells += [
                f"{_time(row['step_seconds']['median'])} ({_time(row['step_seconds']['min'])}–"
                f"{_time(row['step_seconds']['max'])})",
                _ratio(row.get("step_ratio")),
                _time(row["loss_seconds"]["median"]),
                _percent(row["loss_share"]),
            ]
        body.append(cells)
    lines.append(_table(header, body))
    lines += [
        "",
        "One step = Keras's train function on one batch (forward, compiled loss with the"
        " output's padding mask, backward, Adam apply; no metrics), the model built as the"
        " Trainer builds the task's spec (`benchmarks/step_cases.py`). Loss share = the loss's"
        " forward + backward alone on the model's output (its own `tf.function` call, dispatch"
        " included) ÷ the step.",
    ]
    return "\n".join(lines)


def _steps_summary(rows):
    """One line per (task, batch, jit): our step ÷ the Keras loss's step, each loss's share."""
    body = []
    for row in rows:
        if row["loss_name"] == row["reference"]:
            continue
        reference = step_bench.reference_of(row, rows)
        cells = [row["task"], row["batch_size"], "yes" if row["jit"] else "no"]
        if row["status"] != "ok" or reference is None or reference["status"] != "ok":
            body.append(cells + ["–"] * 4)
            continue
        body.append(
            cells
            + [
                f"{row['loss_name']} ÷ {row['reference']}",
                _ratio(row.get("step_ratio")),
                _percent(row["loss_share"]),
                _percent(reference["loss_share"]),
            ]
        )
    header = ["task", "batch", "XLA", "step", "time ×", "our loss's share", "Keras loss's share"]
    return _table(header, body)


def balancers_section(document):
    config = document["config"]
    seeds = ", ".join(str(seed) for seed in config["seeds"])
    lines = [
        "## Multi-task balancers (equal epochs; mean ± std over seeds)",
        "",
        f"{_host_line(document)}; seeds {seeds}; "
        + "; ".join(
            f"{name}: {s['epochs']} epochs, batch {s['batch_size']}, Adam {s['learning_rate']},"
            f" mlp {s['hidden']}×{s['depth']}"
            for name, s in config["problems"].items()
        )
        + ". Reproduce: `python -m benchmarks.run --balancers` (`benchmarks/balancers_bench.py`).",
        "",
    ]
    rows = balancers_bench.summary_rows(document)
    body = [
        [
            row["problem"],
            row["method"],
            f"{row['accuracy'][0]:.3f} ± {row['accuracy'][1]:.3f}",
            f"{row['nmse'][0]:.3f} ± {row['nmse'][1]:.3f}",
            _time(row["step_seconds"]),
            _ratio(row["step_vs_fixed"]),
        ]
        for row in rows
    ]
    header = ["problem", "balancer", "accuracy ↑", "NMSE ↓", "step", "step × fixed"]
    lines.append(_table(header, body))
    lines += ["", *_balancer_verdicts(rows)]
    return "\n".join(lines)


def _balancer_verdicts(rows):
    """Per problem and metric: the best mean, and which others lie within its spread."""
    verdicts = []
    for problem in dict.fromkeys(row["problem"] for row in rows):
        mine = [row for row in rows if row["problem"] == problem]
        for metric, better in (("accuracy", max), ("nmse", min)):
            best = better(mine, key=lambda row: row[metric][0])
            mean, spread = best[metric]
            close = [
                row["method"]
                for row in mine
                if row is not best and abs(row[metric][0] - mean) <= max(spread, row[metric][1])
            ]
            tied = f"; within one std of it: {', '.join(close)}" if close else ""
            verdicts.append(f"- {problem}, {metric}: best {best['method']} ({mean:.3f}){tied}.")
    return verdicts


SECTIONS = {
    "losses": losses_section,
    "transform": transform_section,
    "pipelines": pipelines_section,
    "steps": steps_section,
    "balancers": balancers_section,
}
ORDER = {"losses": 0, "steps": 1, "balancers": 2, "transform": 3, "pipelines": 4}


def _documents(results_dir):
    """Every ``*.json`` result in ``results_dir``, losses first, then Transform, pipelines."""
    documents = [measure.read_json(path) for path in sorted(glob.glob(f"{results_dir}/*.json"))]
    return sorted(documents, key=lambda document: ORDER.get(document.get("kind"), 9))


def render(results_dir):
    """The markdown document for every ``*.json`` result in ``results_dir``."""
    documents = _documents(results_dir)
    parts = [
        "# Benchmark results",
        "",
        "Generated by `python -m benchmarks.run --markdown` from the JSON files beside this one;"
        " `make bench` measures again (CPU), `python -m benchmarks.run --device gpu` adds a GPU.",
        "",
        METHOD,
    ]
    for document in documents:
        section = SECTIONS.get(document.get("kind"))
        if section is not None:
            parts += [section(document), ""]
    return "\n".join(parts)


README_START = "<!-- benchmarks:start (generated by python -m benchmarks.run --markdown) -->"
README_END = "<!-- benchmarks:end -->"


def summary(results_dir):
    """The headline tables for the top-level README: loss ratios per device, Transform
    throughput, pipeline wall time per task."""
    documents = _documents(results_dir)
    parts = []
    for document in documents:
        kind = document.get("kind")
        if kind == "losses":
            device = document["device"]
            title = "CPU" if device["kind"] == "cpu" else f"GPU {device['name']}"
            parts += [
                f"**Losses, {title}** ({_host_line(document)})",
                "",
                _headlines(document["cases"]),
            ]
        elif kind == "steps":
            parts += [
                f"**{steps_section(document).splitlines()[0].removeprefix('## ')}**"
                f" ({_host_line(document)})",
                "",
                _steps_summary(document["cases"]),
            ]
        elif kind == "balancers":
            parts += [
                f"**Multi-task balancers at equal epochs** ({_host_line(document)})",
                "",
                *_balancer_verdicts(balancers_bench.summary_rows(document)),
            ]
        elif kind in ("transform", "pipelines"):
            section = SECTIONS[kind](document).split("\n", 2)
            parts += [f"**{section[0].removeprefix('## ')}**", "", section[2].strip()]
        parts.append("")
    parts.append(
        "Every table, with times, memory and bandwidth per implementation: "
        "[benchmarks/results/README.md](benchmarks/results/README.md)."
    )
    return "\n".join(parts)


def write_readme_block(readme, results_dir):
    """Replaces the generated block of the top-level README; returns False when the README
    has no such block."""
    with open(readme, encoding="utf-8") as handle:
        text = handle.read()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        return False
    block = f"{README_START}\n{summary(results_dir)}\n{README_END}"
    with open(readme, "w", encoding="utf-8") as handle:
        handle.write(pattern.sub(lambda _: block, text))
    return True


def write(results_dir, readme=None):
    """Writes ``results_dir/README.md`` and the generated block of ``readme`` (the project's
    README by default); returns the results README's path."""
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, "README.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render(results_dir))
    readme = readme or os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")
    if os.path.exists(readme):
        write_readme_block(readme, results_dir)
    return path
