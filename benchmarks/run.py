"""Command line of the benchmarks (`make bench` runs it with no arguments).

Default: the loss benchmarks and the Transform throughput on CPU, 10-15 minutes on 2 busy
cores; --quick takes a few. Results go to benchmarks/results/<kind>-<device>.json, and
benchmarks/results/README.md is regenerated from every JSON file there.

  python -m benchmarks.run                       # losses + transform, CPU
  python -m benchmarks.run --quick               # fewer shapes and repeats
  python -m benchmarks.run --device gpu          # losses on /GPU:0 -> losses-gpu-<name>.json
  python -m benchmarks.run --losses --family bpmll
  python -m benchmarks.run --pipelines --tasks penguins tagging
  python -m benchmarks.run --pipelines --demo    # also `make demo` timed in a fresh clone
  python -m benchmarks.run --steps [--device gpu]  # one training step per shipped task model
  python -m benchmarks.run --balancers           # multi-task balancers over 3 seeds
  python -m benchmarks.run --markdown            # only regenerate README.md from the JSON
"""

import argparse
import os
import sys

from benchmarks import (
    balancers_bench,
    losses_bench,
    measure,
    pipeline_bench,
    report,
    step_bench,
    transform_bench,
)

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_argument_group(
        "what to run (default: --losses --transform on CPU, --losses on GPU)"
    )
    what.add_argument("--losses", action="store_true", help="loss implementations")
    what.add_argument("--transform", action="store_true", help="Transform throughput (CPU)")
    what.add_argument(
        "--pipelines", action="store_true", help="whole task pipelines, time per component"
    )
    what.add_argument(
        "--steps",
        action="store_true",
        help="one optimizer step of the tagging, correlation and multilabel models, ours vs"
        " the Keras loss, and the loss's share of it",
    )
    what.add_argument(
        "--balancers",
        action="store_true",
        help="multi-task balancers compared at equal epochs over seeds (CPU, ~10 min)",
    )
    what.add_argument(
        "--markdown",
        action="store_true",
        help="only regenerate results/README.md from the JSON files; measure nothing",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="gpu: every loss case on /GPU:0, results in losses-gpu-<device name>.json; stops"
        " with an error if TensorFlow sees no GPU",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer shapes and repeats; skips the 100k-example multi-processing Transform",
    )
    losses = parser.add_argument_group("losses")
    losses.add_argument(
        "--family",
        action="append",
        choices=losses_bench.FAMILIES,
        help="only these loss families (repeatable; default all)",
    )
    losses.add_argument("--repeats", type=int, help="timed repeats per case (default 5, quick 3)")
    losses.add_argument(
        "--min-time",
        type=float,
        help="seconds one repeat lasts at least, by calling repeatedly (default 0.2, quick 0.05)",
    )
    losses.add_argument(
        "--max-mem-gb",
        type=float,
        help="memory one case may use; larger cases are skipped (default: CPU 6 GB or half of"
        " MemAvailable if less, GPU 85%% of its memory)",
    )
    losses.add_argument(
        "--case-timeout", type=float, default=600, help="seconds before a case is abandoned"
    )
    transform = parser.add_argument_group("transform")
    transform.add_argument(
        "--transform-repeats",
        type=int,
        help="runs per (size, mode) (default 2, quick 1: a multi-processing run spends about a"
        " minute starting its workers)",
    )
    transform.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(transform_bench.SIZES),
        help="numbers of generated examples (default 10000 100000 300000 1000000; --quick"
        " runs the ones up to 100000)",
    )
    pipelines = parser.add_argument_group("pipelines")
    pipelines.add_argument(
        "--tasks", nargs="+", default=["penguins"], help="task pipelines to run (default penguins)"
    )
    pipelines.add_argument(
        "--epochs", type=int, default=None, help="Trainer epochs (default: each task's own)"
    )
    pipelines.add_argument(
        "--beam-mode",
        choices=tuple(pipeline_bench.BEAM_MODES),
        default=pipeline_bench.AUTO,
        help="DirectRunner mode of the pipelines' Beam components (default auto: what"
        " `losskit run` chooses from the data's size)",
    )
    pipelines.add_argument(
        "--demo",
        action="store_true",
        help="also time `make demo` in a fresh clone of HEAD (with --pipelines)",
    )
    steps = parser.add_argument_group("steps")
    steps.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=list(step_bench.BATCH_SIZES),
        help="batch sizes of the step benchmark (default 32 256)",
    )
    parser.add_argument(
        "--results-dir", default=RESULTS_DIR, help="where the JSON and README.md go"
    )
    parser.add_argument(
        "--work-dir",
        default=os.path.join("runs", "bench"),
        help="generated data and pipeline roots (default runs/bench)",
    )
    args = parser.parse_args(argv)
    if not (args.losses or args.transform or args.pipelines or args.steps or args.balancers):
        args.losses = True
        args.transform = args.device == "cpu"
    if args.device == "gpu" and (args.transform or args.pipelines):
        parser.error(
            "--device gpu measures the losses and steps only (Transform and pipelines are"
            " Beam/CPU)"
        )
    if args.demo and not args.pipelines:
        parser.error("--demo goes with --pipelines")
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.min_time = args.min_time if args.min_time is not None else (0.05 if args.quick else 0.2)
    args.transform_repeats = args.transform_repeats or (1 if args.quick else 2)
    return args


def main(argv=None):
    args = parse_args(argv)
    if not args.markdown:
        work_dir = os.path.abspath(args.work_dir)
        if args.losses:
            document = losses_bench.run(
                device=args.device,
                families=args.family or losses_bench.FAMILIES,
                quick=args.quick,
                repeats=args.repeats,
                min_time=args.min_time,
                max_mem_gb=args.max_mem_gb,
                case_timeout=args.case_timeout,
            )
            _save(args.results_dir, losses_bench.results_name(document), document)
        if args.steps:
            document = step_bench.run(
                device=args.device,
                tasks=tuple(step_bench.TASKS),
                batch_sizes=args.batch_sizes,
                repeats=args.repeats,
                min_time=args.min_time,
                case_timeout=args.case_timeout,
            )
            _save(args.results_dir, step_bench.results_name(document), document)
        if args.balancers:
            document = balancers_bench.run(
                seeds=balancers_bench.SEEDS[:1] if args.quick else balancers_bench.SEEDS
            )
            _save(args.results_dir, "balancers-cpu.json", document)
        if args.transform:
            document = transform_bench.run(
                work_dir, args.quick, args.transform_repeats, timeout=3600, sizes=args.sizes
            )
            _save(args.results_dir, "transform-cpu.json", document)
        if args.pipelines:
            document = pipeline_bench.run(
                work_dir, args.tasks, args.beam_mode, args.epochs, timeout=3600
            )
            if args.demo:
                document["demo"] = pipeline_bench.demo(work_dir, REPO_DIR, timeout=3600)
            _save(args.results_dir, "pipelines-cpu.json", document)
    path = report.write(args.results_dir)
    measure.log(f"wrote {path}")
    return 0


def _save(results_dir, name, document):
    path = os.path.join(results_dir, name)
    measure.write_json(path, document)
    measure.log(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
