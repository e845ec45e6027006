"""Transform throughput: tf.Transform's AnalyzeAndTransformDataset with the tagging task's
preprocessing_fn over generated HMM sequences, on Beam's DirectRunner in one process vs several.

One run = read ``data.tfrecord`` through ``tfxio.TFExampleRecord`` (the TFX Transform
component's reader) → analyse (token vocabulary) → transform → encode tf.Examples → write
TFRecord, plus the transform graph, under ``force_tf_compat_v1=False`` as the component runs
it. The clock covers the whole ``beam.Pipeline`` block: pipeline construction, tracing of the
preprocessing_fn, the runner's start-up (worker processes in multi-processing mode) and the
work itself, i.e. what a user waits for. Throughput = examples / wall seconds; the marginal rate
between two sizes, (N₂ − N₁) / (t₂ − t₁), removes the fixed start-up cost.

Every run is a spawned child process of its own (Beam and gRPC are not fork-safe), so runs do
not share warmed-up state, and the repeats go round-robin over the configurations.
"""

import functools
import os
import shutil
import time

from benchmarks import measure
from pipelines.beam_modes import MODES

TASK = "tagging"
SIZES = (10_000, 100_000, 300_000, 1_000_000)


def dataset(work_dir, num_examples):
    """The HMM tagging data with ``num_examples`` sequences (seed 0), written once per size."""
    from pipelines.datasets import TFRECORD_FILE, hmm, read_metadata

    directory = os.path.join(work_dir, "data", f"hmm-{num_examples}")
    path = os.path.join(directory, TFRECORD_FILE)
    try:
        if read_metadata(directory)["num_examples"] == num_examples and os.path.exists(path):
            return path
    except (OSError, KeyError, ValueError):
        pass
    return hmm.write(directory, seed=0, num_examples=num_examples).path


def transform_once(data_path, beam_args, out_dir):
    """Seconds for one analyse-and-transform run, and the number of examples written."""
    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tensorflow_transform.tf_metadata import schema_utils
    from tfx_bsl.public import tfxio

    from components.transform.preprocessing import preprocessing_fn as spec_preprocessing_fn
    from pipelines import tasks
    from pipelines.datasets import hmm

    preprocessing_fn = functools.partial(
        spec_preprocessing_fn,
        custom_config=tasks.load(TASK).component_config("transform"),
    )
    source = tfxio.TFExampleRecord(
        file_pattern=data_path,
        telemetry_descriptors=["losskit-benchmarks"],
        schema=schema_utils.schema_from_feature_spec(hmm.feature_spec()),
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    output_prefix = os.path.join(out_dir, "transformed", "data")
    start = time.perf_counter()
    with tft_beam.Context(temp_dir=os.path.join(out_dir, "tmp"), force_tf_compat_v1=False):
        with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
            raw = pipeline | "Read" >> source.BeamSource()
            (transformed, metadata), transform_fn = (
                raw,
                source.TensorAdapterConfig(),
            ) | "AnalyzeAndTransform" >> tft_beam.AnalyzeAndTransformDataset(preprocessing_fn)
            coder = tft.coders.ExampleProtoCoder(metadata.schema)
            _ = (
                transformed
                | "Encode" >> beam.Map(coder.encode)
                | "Write" >> beam.io.WriteToTFRecord(output_prefix, file_name_suffix=".tfrecord")
            )
            _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(
                os.path.join(out_dir, "transform_fn")
            )
    seconds = time.perf_counter() - start
    written = tf.io.gfile.glob(output_prefix + "*")
    count = sum(1 for _ in tf.data.TFRecordDataset(written).as_numpy_iterator())
    shutil.rmtree(out_dir, ignore_errors=True)
    return seconds, count


def run_one(work_dir, num_examples, mode, index):
    """Child-process body: one timed run of (size, mode); its wall seconds and the input's
    bytes (what `losskit run` chooses the mode by)."""
    data_path = dataset(work_dir, num_examples)
    out_dir = os.path.join(work_dir, "transform", f"{mode}-{num_examples}-{index}")
    seconds, count = transform_once(data_path, list(MODES[mode]), out_dir)
    if count != num_examples:
        raise RuntimeError(f"wrote {count} transformed examples, expected {num_examples}")
    return {"seconds": seconds, "data_bytes": os.path.getsize(data_path)}


def run(work_dir, quick, repeats, timeout, sizes=SIZES):
    """Every (size, mode) unless ``quick`` (which skips the slow 100k multi-processing case),
    ``repeats`` times; returns the results document.

    The repeats go round-robin (every configuration once, then again), so a change in the
    machine's load during the run spreads over all configurations instead of tilting one.
    """
    runner = measure.ChildRunner("spawn")
    started = time.time()
    host = measure.host_info()
    rows = []
    for num_examples in sizes:
        for mode in MODES:
            row = {"task": TASK, "num_examples": num_examples, "mode": mode}
            row["beam_args"] = list(MODES[mode])
            if quick and mode == "multi_processing" and num_examples >= 100_000:
                row.update(status="skipped", note="skipped: --quick")
            else:
                row.update(status="ok", all_seconds=[])
            rows.append(row)
    for index in range(repeats):
        for row in rows:
            if row["status"] != "ok":
                continue
            result = runner.run(
                "benchmarks.transform_bench:run_one",
                {
                    "work_dir": work_dir,
                    "num_examples": row["num_examples"],
                    "mode": row["mode"],
                    "index": index,
                },
                timeout=timeout,
            )
            if result["ok"]:
                row["all_seconds"].append(result["value"]["seconds"])
                row["data_bytes"] = result["value"]["data_bytes"]
            else:
                row.update(status="failed", note=f"failed: {result['error']}")
            measure.log(_progress(row, index))
    for row in rows:
        if row["status"] == "ok":
            row["seconds"] = measure.summarize(row["all_seconds"])
            row["examples_per_s"] = row["num_examples"] / row["seconds"]["median"]
    _derive(rows)
    return {
        "kind": "transform",
        "host": host,
        "config": {
            "quick": quick,
            "repeats": repeats,
            "load_average_end": list(os.getloadavg()),
            "wall_s": time.time() - started,
        },
        "cases": rows,
    }


def _derive(rows):
    """Speed-up of multi- over single-process per size, and marginal rates between sizes."""
    ok = {(r["num_examples"], r["mode"]): r for r in rows if r["status"] == "ok"}
    for (num_examples, mode), row in ok.items():
        single = ok.get((num_examples, "in_memory"))
        if mode != "in_memory" and single:
            row["speedup_vs_in_memory"] = single["seconds"]["median"] / row["seconds"]["median"]
        smaller = [n for (n, m) in ok if m == mode and n < num_examples]
        if smaller:
            base = ok[(max(smaller), mode)]
            extra = row["seconds"]["median"] - base["seconds"]["median"]
            if extra > 0:
                row["marginal_examples_per_s"] = (num_examples - base["num_examples"]) / extra


def _progress(row, index):
    where = f"transform {row['mode']:<17} N={row['num_examples']:<7} run {index + 1}"
    if row["status"] != "ok":
        return f"{where} {row['note']}"
    seconds = row["all_seconds"][-1]
    return f"{where} {seconds:7.1f} s  {row['num_examples'] / seconds:8.0f} examples/s"
