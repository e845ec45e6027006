"""A pipeline of the user's own: their components, their order, losskit's pieces by dotted path.

Only three things come from losskit, each named as TFX names user code:
  Transform   preprocessing_fn = components.transform.preprocessing.preprocessing_fn
  Trainer     run_fn           = components.trainer.run.run_fn
  Evaluator   eval_config      = components.evaluator.configs.eval_config(spec)
              module_path      = components.evaluator.model_loader (loads our losses)
each given the task spec (`custom_config`); the spec names the user's columns, loss and model
builder. Nothing else of losskit's pipeline (its data checks, gate, baseline) is used.
"""

from tfx import v1 as tfx

from components import spec as spec_lib
from components.evaluator.configs import eval_config
from components.evaluator.model_loader import MODULE_PATH

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.run.run_fn"


def create_pipeline(
    *, spec_path: str, data_root: str, pipeline_root: str, serving_dir: str, metadata_path: str
) -> tfx.dsl.Pipeline:
    spec = spec_lib.load(spec_path)
    example_gen = tfx.components.CsvExampleGen(input_base=data_root)
    statistics = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema = tfx.components.SchemaGen(
        statistics=statistics.outputs["statistics"], infer_feature_shape=True
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=spec.component_config("transform"),
        force_tf_compat_v1=False,
    )
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=transform.outputs["post_transform_schema"],
        custom_config=spec.component_config("trainer"),
    )
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        eval_config=eval_config(spec, with_baseline=False),
        module_path=MODULE_PATH,
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    )
    return tfx.dsl.Pipeline(
        pipeline_name=f"own-{spec.name}",
        pipeline_root=pipeline_root,
        components=[example_gen, statistics, schema, transform, trainer, evaluator, pusher],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path
        ),
    )
