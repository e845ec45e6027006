"""The TFX generic Trainer's `run_fn`: the task spec in custom_config → model, loss, training,
export, and `loss.json` (the loss each head trained with, its class names, and for multitask
the balancer with its per-epoch head weights where it moves them)."""

import json
import os

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from components.trainer.build import build
from components.trainer.callbacks import StopOnNonFiniteLoss
from components.trainer.distribution import choose_strategy, global_batch_size, output_dir
from components.trainer.export import signatures
from components.transform.preprocessing import spec_of

LOSS_RECORD = "loss.json"


def _dataset(fn_args, files, tft_output, batch_size, split, seed, shuffle):
    dataset = fn_args.data_accessor.tf_dataset_factory(
        files,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size, num_epochs=1, shuffle=shuffle, shuffle_seed=seed
        ),
        tft_output.transformed_metadata.schema,
    )
    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    spec = spec_of(fn_args.custom_config)
    config = spec.trainer
    # First of all TF work: MultiWorkerMirroredStrategy configures collective ops, which TF
    # allows only before its runtime starts.
    strategy = choose_strategy(config.distribution)
    tf.keras.utils.set_random_seed(config.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    batch_size = global_batch_size(config.batch_size, strategy)
    run_dir = output_dir(strategy, fn_args.model_run_dir)

    with strategy.scope():
        built = build(spec, tft_output)
        optimizer = tf.keras.optimizers.Adam(config.learning_rate)
        if built.uses_add_loss:
            built.model.compile(optimizer=optimizer)
        else:
            built.model.compile(optimizer=optimizer, loss=built.loss, metrics=built.metrics)

    def data(files, shuffle):
        return _dataset(fn_args, files, tft_output, batch_size, built.split, config.seed, shuffle)

    history = built.model.fit(
        data(fn_args.train_files, shuffle=True),
        validation_data=data(fn_args.eval_files, shuffle=False),
        epochs=config.epochs,
        verbose=2,
        callbacks=[
            StopOnNonFiniteLoss(),
            tf.keras.callbacks.TensorBoard(log_dir=run_dir, update_freq="epoch"),
            *built.callbacks,
        ],
    )

    export = built.export_model
    if built.uses_add_loss:
        # Compiled so the registered losses travel with the SavedModel and TFMA can report them.
        export.compile(loss=built.loss, metrics=built.metrics)
    export.save(
        output_dir(strategy, fn_args.serving_model_dir),
        save_format="tf",
        signatures=signatures(export, tft_output, spec.label_columns, export.input_names),
    )
    heads = built.loss if isinstance(built.loss, dict) else {"": built.loss}
    record = {
        "task": spec.name,
        "kind": spec.kind,
        "loss": {head: tf.keras.losses.serialize(loss) for head, loss in heads.items()},
        "classes": built.classes,
    }
    if spec.kind == "multitask":
        # The dynamic balancers' weights per epoch (BalancerCallback logs them), by head.
        logged = {
            head.name: history.history[f"balancer/weight_{k}"]
            for k, head in enumerate(spec.heads)
            if f"balancer/weight_{k}" in history.history
        }
        record["balancer"] = {"method": spec.balancer.method, "weights": logged}
    with tf.io.gfile.GFile(os.path.join(run_dir, LOSS_RECORD), "w") as f:
        json.dump(record, f, default=str)
