"""`losskit`: tasks · init · check · run · compile · submit · report.

A task is a spec file (YAML, see `losskit init`) or the name of a shipped task."""

import json
import os
import re
import sys
import warnings

import click

from pipelines import kubeflow_defaults as defaults

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, PermissionError, KeyError)
_BEAM_STEP = re.compile(r"\s*\[while running '[^']*'\]\s*$")


def _user_errors(fn):
    """User mistakes end in one line and a non-zero exit, not a stack trace."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            # KeyError's str() is the repr of its argument; the others read as written.
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise click.ClickException(str(message)) from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _loss_option(value):
    """--loss takes a name, a JSON {"name", "params"} spec, or (multitask) a JSON object of
    one such spec per head."""
    if value is None:
        return None
    if not value.lstrip().startswith("{"):
        return {"name": value}
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise ValueError(f"--loss {value}: not JSON ({err})") from None


@click.group(help=__doc__)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show TensorFlow's start-up lines, the libraries' log and their warnings.",
)
def main(verbose):
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    # Set before TensorFlow loads, here and (through the environment) in Beam's workers:
    # level 3 drops the CUDA plugin-registration errors TF prints on every CPU start, and
    # the libraries' FutureWarnings (google.api_core's Python 3.10 notice among them) tell
    # a user of this CLI nothing they can act on.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    warnings.filterwarnings("ignore", category=FutureWarning)
    inherited = os.environ.get("PYTHONWARNINGS", "")
    if "ignore::FutureWarning" not in inherited:
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [inherited, "ignore::FutureWarning"]))


@main.command()
@_user_errors
def tasks():
    """List the shipped task specs and what each trains."""
    from pipelines import tasks as shipped_tasks

    for name, path in shipped_tasks.shipped().items():
        spec = shipped_tasks.load(path)
        click.echo(f"{name:12s} {spec.kind:20s} {' '.join(spec.summary.split())}")
    click.echo(f"\nspec files: {shipped_tasks.SPEC_DIR}")


@main.command()
@click.option("--data", required=True, help="CSV or TFRecord file, glob or directory.")
@click.option("--label", required=True, help="The column (feature) to predict.")
@click.option(
    "--kind",
    type=click.Choice(
        ["classification", "multilabel", "tagging", "sequence_regression", "multitask"]
    ),
    help="Force the kind (default: picked from the data).",
)
@click.option("-o", "--output", required=True, help="Spec file to write (.yaml).")
@click.option("--force", is_flag=True, help="Replace an existing spec file.")
@_user_errors
def init(data, label, kind, output, force):
    """Write a commented task spec for your data; edit it, then `losskit check` it."""
    from pipelines import init_spec, profile

    found = init_spec.write(profile.profile(data), label, output, kind=kind, force=force)
    click.echo(f"wrote {output}: kind {found.kind}")
    for column, reason in found.skipped:
        click.echo(f"  skipped {column}: {reason}")
    for warning in found.warnings:
        click.echo(f"  warning: {warning}")
    click.echo(f"next: losskit check {output} && losskit run {output}")


@main.command()
@click.argument("task")
@click.option("--data", help="Check this data instead of the spec's.")
@_user_errors
def check(task, data):
    """Validate TASK (a spec file or a shipped task) against its data; nothing runs."""
    from pipelines import contracts, names_check
    from pipelines import tasks as shipped_tasks

    spec = shipped_tasks.load(task)
    report = contracts.check(spec, data)
    problems = names_check.problems(spec)
    if problems:
        raise ValueError("\n".join(problems))
    click.echo(f"spec {spec.name} ({spec.kind}) OK")
    click.echo(report.summary())


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("task")
@click.option(
    "--data", type=click.Path(), help="Your data (file, glob or directory) instead of the spec's."
)
@click.option(
    "--schema",
    type=click.Path(),
    help="Your curated schema.pbtxt (default: inferred by SchemaGen); data that breaks it "
    "stops the run before Transform.",
)
@click.option("--root", default="runs/local", show_default=True, help="Pipeline root.")
@click.option("--epochs", type=int, help="Training epochs (default: the spec's).")
@click.option(
    "--loss",
    "loss_spec",
    help='Loss name or JSON {"name": ..., "params": {...}}; multitask: JSON by head name.',
)
@click.option(
    "--orchestrator", type=click.Choice(["beam", "local"]), default="beam", show_default=True
)
@click.argument("beam_args", nargs=-1, type=click.UNPROCESSED)
@_user_errors
def run(task, data, schema, root, epochs, loss_spec, orchestrator, beam_args):
    """Run TASK's pipeline here; arguments after `--` go to Beam unchanged."""
    _check_writable(root)
    _quiet_libraries()
    from components.trainer.build import check_resolvable
    from pipelines import local
    from pipelines import tasks as shipped_tasks

    spec = shipped_tasks.load(task).with_overrides(epochs=epochs, loss=_loss_option(loss_spec))
    check_resolvable(spec)
    pipeline, layout = local.build(
        spec, root, data=data, schema=schema, beam_args=list(beam_args) or None
    )
    try:
        local.execute(pipeline, layout, orchestrator=orchestrator, progress=True)
    except Exception as err:  # noqa: BLE001  a failed component: say which, and why, in one line
        raise click.ClickException(_failure(layout, err)) from None
    click.echo(f"pipeline root: {layout.pipeline_root}")
    click.echo(f"metadata:      {layout.metadata_path}")


def _failure(layout, err) -> str:
    from pipelines import results

    failed = [
        row.component
        for row in results.executions(layout.metadata_path, layout.pipeline_name)
        if row.state == "FAILED"
    ]
    reason = next(
        (line for line in reversed(str(err).strip().splitlines()) if line.strip()), repr(err)
    )
    reason = _BEAM_STEP.sub("", reason)  # Beam's "[while running 'Run[Trainer]']" suffix
    where = f"{failed[-1]} failed" if failed else "the pipeline failed"
    return (
        f"{where}: {reason.strip()}\n(completed components are cached under "
        f"{layout.pipeline_root}; rerun the same command to resume)"
    )


def _quiet_libraries():
    """TFX, Beam and TensorFlow log at INFO; the progress lines replace that. Warnings and
    errors still show."""
    import logging

    for name in ("absl", "apache_beam", "tensorflow", ""):
        logging.getLogger(name).setLevel(logging.WARNING)


def _check_writable(root):
    root = os.path.abspath(root)
    existing = root
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise PermissionError(f"--root {root}: {existing} is not a writable directory")


@main.command(name="compile")
@click.argument("task")
@click.option("-o", "--output", required=True, help="Pipeline file to write (.yaml).")
@click.option("--image", default=defaults.DEFAULT_IMAGE, show_default=True)
@click.option(
    "--gpu-image",
    default=defaults.DEFAULT_GPU_IMAGE,
    show_default=True,
    help="Image of the Trainer step when a GPU is requested (the CUDA build).",
)
@click.option(
    "--gpu",
    default=f"{defaults.DEFAULT_GPU_TYPE}:{defaults.DEFAULT_GPU_COUNT}",
    show_default=True,
    help="TYPE:COUNT for the Trainer, or 'none'.",
)
@click.option(
    "--node-pool",
    default=f"{defaults.NODE_POOL_LABEL_KEY}={defaults.NODE_POOL_LABEL_VALUE}",
    show_default=True,
    help="LABEL=VALUE the Trainer's node selector matches.",
)
@click.option(
    "--pipeline-root",
    required=True,
    help="Artifact root every step can read and write (gs://BUCKET/path, s3://…).",
)
@click.option("--data", help="Data URI on the cluster (default: the spec's, or the image's copy).")
@click.option("--schema", help="Curated schema.pbtxt URI on the cluster (default: inferred).")
@click.option("--epochs", type=int)
@click.option("--loss", "loss_spec", help="As for `run`; travels into the compiled file.")
@_user_errors
def compile_(
    task, output, image, gpu_image, gpu, node_pool, pipeline_root, data, schema, epochs, loss_spec
):
    """Compile TASK for Kubeflow Pipelines 2."""
    _quiet_libraries()
    from components.trainer.build import check_resolvable
    from pipelines import kubeflow
    from pipelines import tasks as shipped_tasks

    spec = shipped_tasks.load(task).with_overrides(epochs=epochs, loss=_loss_option(loss_spec))
    check_resolvable(spec)
    gpu_request = None if gpu == "none" else kubeflow.parse_gpu(gpu)
    path = kubeflow.compile_task(
        spec,
        output,
        pipeline_root=pipeline_root,
        image=image,
        gpu_image=gpu_image,
        gpu=gpu_request,
        node_pool=kubeflow.parse_node_pool(node_pool),
        data=data,
        schema=schema,
    )
    click.echo(f"wrote {path}")


@main.command()
@click.argument("pipeline_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--host", required=True, help="KFP API endpoint, e.g. http://localhost:8080")
@click.option("--experiment", default="losskit", show_default=True)
@click.option("--run-name", default=None)
@click.option(
    "--wait", is_flag=True, help="Follow the run to its end; non-zero unless it succeeds."
)
@click.option(
    "--timeout", type=float, default=24 * 3600, show_default=True, help="Seconds to --wait."
)
@_user_errors
def submit(pipeline_file, host, experiment, run_name, wait, timeout):
    """Submit a compiled pipeline with kfp.Client (credentials: environment / kube config)."""
    from pipelines import submit as submitting

    run_id, url = submitting.submit(
        pipeline_file, host=host, experiment=experiment, run_name=run_name
    )
    click.echo(f"submitted run {run_id}: {url}")
    if wait:
        state = submitting.wait(host, run_id, timeout=timeout)
        click.echo(f"run {run_id}: {state}")
        if state != submitting.SUCCEEDED:
            raise click.ClickException(f"run {run_id} ended {state}: {url}")


@main.command()
@click.argument("root", type=click.Path())
@click.option("-o", "--output", default=None, help="HTML file to write.")
@_user_errors
def report(root, output):
    """Summarise the latest evaluation under ROOT (a `losskit run --root`)."""
    from pipelines.report import write_report

    path = write_report(root, output)
    click.echo(f"report: {path}")


if __name__ == "__main__":
    sys.exit(main())
