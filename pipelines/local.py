"""Run a task spec's pipeline here: TFX's BeamDagRunner (default) or LocalDagRunner, one MLMD
sqlite per root, embedded data written under the root unless the spec (or `--data`) names
the user's own, Beam's DirectRunner mode chosen from the data's size."""

import contextlib
import dataclasses
import filecmp
import os
import shutil
import tempfile

from tfx import v1 as tfx
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipelines import beam_modes, contracts, datasets, profile, tasks
from pipelines.pipeline import create_pipeline
from pipelines.progress import component_progress

ORCHESTRATORS = ("beam", "local")


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """Where a run under `root` keeps things. Tasks share the MLMD database and keep
    separate pipeline roots, data and serving directories."""

    root: str
    task: str

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.root, "metadata.sqlite")

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.root, "pipelines", self.task)

    @property
    def data_dir(self) -> str:
        return os.path.join(self.root, "data", self.task)

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.root, "serving", self.task)

    @property
    def pipeline_name(self) -> str:
        return f"losskit-{self.task}"


def _write_embedded(dataset: str, data_dir: str):
    """Writes the embedded dataset unless the same bytes are already there: ExampleGen
    fingerprints its input by modification time too, so rewriting identical data would
    defeat the cache of every component on a rerun."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = datasets.write_default(dataset, scratch)
        os.makedirs(data_dir, exist_ok=True)
        for name in os.listdir(scratch):
            target = os.path.join(data_dir, name)
            source = os.path.join(scratch, name)
            if not (os.path.exists(target) and filecmp.cmp(source, target, shallow=False)):
                shutil.copyfile(source, target)
    return dataclasses.replace(fresh, path=os.path.join(data_dir, fresh.file_name))


def resolve_data(spec, layout: RunLayout):
    """(spec with its data and classes resolved, ExampleGen's input base, pattern, format):
    the embedded dataset written (deterministically, seed 0) under the run's root, or the
    user's data checked against the spec before any component runs."""
    if spec.data is None:
        raise ValueError(f"{spec.name}: the spec names no data; set `data:` or pass --data")
    dataset = tasks.embedded(spec)
    if dataset is not None:
        info = _write_embedded(dataset, layout.data_dir)
        spec = spec.with_overrides(data=info.path)
        found = profile.profile(info.path)
    else:
        found = contracts.check(spec).profile
    spec = tasks.with_classes_from(spec, found)
    base, pattern, fmt = tasks.example_gen_input(spec.data)
    return spec, base, pattern, fmt


def resolve_schema(schema: str | None) -> str | None:
    """The user's schema.pbtxt as an absolute path, parsed here so a bad file stops the run
    before any component starts."""
    if schema is None:
        return None
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = os.path.abspath(schema)
    if not os.path.isfile(schema):
        raise FileNotFoundError(f"--schema {schema}: no such file")
    with open(schema) as handle:
        try:
            text_format.Parse(handle.read(), schema_pb2.Schema())
        except text_format.ParseError as err:
            raise ValueError(f"--schema {schema}: not a text-format Schema: {err}") from None
    return schema


def build(spec_or_task, root, *, data=None, schema=None, beam_args=None, **overrides):
    """(pipeline, layout) of a spec (a TaskSpec, a spec file or a shipped task's name);
    `data` and `overrides` (epochs, loss, …) replace the spec's. Without `beam_args` the
    DirectRunner's mode is chosen from the input's size (`pipelines.beam_modes`); given, they
    replace the choice wholesale."""
    spec = spec_or_task if not isinstance(spec_or_task, str) else tasks.load(spec_or_task)
    if data is not None and "://" not in data:
        data = os.path.abspath(data)
    spec = spec.with_overrides(data=data, **overrides)
    layout = RunLayout(os.path.abspath(root), spec.name)
    spec, data_root, pattern, fmt = resolve_data(spec, layout)
    schema_path = resolve_schema(schema)
    os.makedirs(layout.pipeline_root, exist_ok=True)
    pipeline = create_pipeline(
        pipeline_name=layout.pipeline_name,
        pipeline_root=layout.pipeline_root,
        data_root=data_root,
        data_pattern=pattern,
        data_format=fmt,
        spec=spec,
        serving_model_dir=layout.serving_dir,
        schema_path=schema_path,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            layout.metadata_path
        ),
        beam_pipeline_args=beam_modes.beam_args(
            beam_modes.input_bytes(data_root, pattern), beam_args
        ),
    )
    return pipeline, layout


def run(spec_or_task, root, *, orchestrator="beam", progress=False, **kwargs) -> RunLayout:
    """Builds and runs a spec's pipeline; `progress` prints a line per component."""
    pipeline, layout = build(spec_or_task, root, **kwargs)
    execute(pipeline, layout, orchestrator=orchestrator, progress=progress)
    return layout


def execute(pipeline, layout: RunLayout, *, orchestrator="beam", progress=False) -> None:
    if orchestrator not in ORCHESTRATORS:
        raise ValueError(f"orchestrator must be one of {', '.join(ORCHESTRATORS)}")
    runner = BeamDagRunner() if orchestrator == "beam" else tfx.orchestration.LocalDagRunner()
    watch = (
        component_progress(layout.metadata_path, layout.pipeline_name)
        if progress
        else contextlib.nullcontext()
    )
    with watch:
        runner.run(pipeline)
