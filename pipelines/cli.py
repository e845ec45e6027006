"""`losskit`: tasks · run · compile · submit · report."""

import json
import os
import re
import sys
import warnings

import click

from pipelines import kubeflow_defaults as defaults

USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, KeyError)
_PY310_NOTICE = "You are using a non-supported Python version"
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
    one such spec per head; each spec is checked by losses.get."""
    if value is None:
        return None
    import losses

    spec = json.loads(value) if value.lstrip().startswith("{") else {"name": value}
    per_head = isinstance(spec, dict) and "name" not in spec
    for head in spec.values() if per_head else [spec]:
        losses.get(head)
    return spec


@click.group(help=__doc__)
def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # google.api_core warns on import, here and in every Beam worker process, that Python
    # 3.10 gets no more updates; TFX 1.16 installs on 3.10 only, so it tells users nothing.
    warnings.filterwarnings("ignore", _PY310_NOTICE, FutureWarning)
    inherited = os.environ.get("PYTHONWARNINGS", "")
    notice = f"ignore:{_PY310_NOTICE}:FutureWarning"
    if notice not in inherited:
        os.environ["PYTHONWARNINGS"] = f"{inherited},{notice}" if inherited else notice


@main.command()
def tasks():
    """List the tasks and what each trains."""
    from pipelines.tasks import TASKS

    for task in TASKS.values():
        click.echo(f"{task.name:12s} {task.summary}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("task")
@click.option("--data", type=click.Path(), help="Your own data file (.csv or .tfrecord).")
@click.option(
    "--schema",
    type=click.Path(),
    help="Your curated schema.pbtxt (default: inferred by SchemaGen); data that breaks it "
    "stops the run before Transform.",
)
@click.option("--root", default="runs/local", show_default=True, help="Pipeline root.")
@click.option("--epochs", type=int, help="Training epochs (default: the task's).")
@click.option("--loss", "loss_spec", help='Loss name or JSON {"name": ..., "params": {...}}.')
@click.option(
    "--orchestrator", type=click.Choice(["beam", "local"]), default="beam", show_default=True
)
@click.argument("beam_args", nargs=-1, type=click.UNPROCESSED)
@_user_errors
def run(task, data, schema, root, epochs, loss_spec, orchestrator, beam_args):
    """Run TASK's pipeline here; arguments after `--` go to Beam unchanged."""
    from pipelines import local

    loss = _loss_option(loss_spec)
    _check_writable(root)
    _quiet_libraries()
    pipeline, layout = local.build(
        task,
        root,
        data=data,
        schema=schema,
        beam_args=list(beam_args) or None,
        epochs=epochs,
        loss=loss,
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
@click.option("--data", help="Data file URI on the cluster (default: the image's copy).")
@click.option("--schema", help="Curated schema.pbtxt URI on the cluster (default: inferred).")
@click.option("--epochs", type=int)
@_user_errors
def compile_(task, output, image, gpu_image, gpu, node_pool, pipeline_root, data, schema, epochs):
    """Compile TASK for Kubeflow Pipelines 2."""
    from pipelines import kubeflow

    gpu_request = None if gpu == "none" else kubeflow.parse_gpu(gpu)
    path = kubeflow.compile_task(
        task,
        output,
        pipeline_root=pipeline_root,
        image=image,
        gpu_image=gpu_image,
        gpu=gpu_request,
        node_pool=kubeflow.parse_node_pool(node_pool),
        data=data,
        schema=schema,
        epochs=epochs,
    )
    click.echo(f"wrote {path}")


@main.command()
@click.argument("pipeline_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--host", required=True, help="KFP API endpoint, e.g. http://localhost:8080")
@click.option("--experiment", default="losskit", show_default=True)
@click.option("--run-name", default=None)
@_user_errors
def submit(pipeline_file, host, experiment, run_name):
    """Submit a compiled pipeline with kfp.Client (credentials: environment / kube config)."""
    from pipelines.submit import submit as submit_run

    run_id = submit_run(pipeline_file, host=host, experiment=experiment, run_name=run_name)
    click.echo(f"submitted run {run_id}")


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
