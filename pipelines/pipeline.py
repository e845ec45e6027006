"""The one pipeline definition every task shares. It only wires components; what differs
per task is the task spec, which reaches Transform and Trainer as custom_config and the
Evaluator as the EvalConfig built from it."""

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from components import spec as spec_lib
from components.evaluator.baseline import Evaluator, LatestPushedModel
from components.evaluator.configs import eval_config
from components.evaluator.model_loader import MODULE_PATH as EVAL_MODULE_PATH
from components.transform import make_transform
from components.validator import AnomaliesGate

RUN_FN = "components.trainer.run.run_fn"


def create_pipeline(
    *,
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    data_pattern: str,
    data_format: str,
    spec: spec_lib.TaskSpec,
    serving_model_dir: str,
    schema_path: str | None = None,
    metadata_connection_config=None,
    beam_pipeline_args=(),
    trainer_platform_config=None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """ExampleGen → StatisticsGen → SchemaGen → ExampleValidator → AnomaliesGate →
    Transform → Trainer → LatestPushedModel (the baseline) → Evaluator → Pusher.

    The same object runs on BeamDagRunner / LocalDagRunner and compiles for Kubeflow. `spec`
    must list its classes (`pipelines.tasks.with_classes`): TFMA needs the count up front.
    `schema_path` (a schema.pbtxt) replaces the inferred schema with the user's curated one
    (ImportSchemaGen); data that breaks it stops the run at the AnomaliesGate.
    `trainer_platform_config` (a Kubeflow ResourceSpec) asks for the Trainer's GPUs.
    """
    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern=data_pattern)]
    )
    if data_format == "csv":
        example_gen = tfx.components.CsvExampleGen(input_base=data_root, input_config=input_config)
    else:
        example_gen = tfx.components.ImportExampleGen(
            input_base=data_root, input_config=input_config
        )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    if schema_path is None:
        schema_gen = tfx.components.SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
        )
    else:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"])
    transform = make_transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        spec_config=spec.component_config("transform"),
    )
    transform.add_upstream_node(anomalies_gate)
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=transform.outputs["post_transform_schema"],
        custom_config=spec.component_config("trainer"),
    )
    if trainer_platform_config is not None:
        trainer.with_platform_config(trainer_platform_config)
    baseline = LatestPushedModel(
        candidate=trainer.outputs["model"], push_destination=serving_model_dir
    ).with_id("LatestPushedModel")
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        eval_config=eval_config(spec),
        module_path=EVAL_MODULE_PATH,
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)
        ),
    )
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            anomalies_gate,
            transform,
            trainer,
            baseline,
            evaluator,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args),
    )
