"""How TFMA loads our models: always as Keras models, with the losskit losses registered.

TFMA's own loader calls `tf.keras.models.load_model` without custom objects and, when that
fails, silently evaluates the SavedModel as `tf_generic` (the compiled losses and metrics
vanish). The Evaluator points its `module_path` here; the loader imports `losses` in the
process that loads the model (Beam workers included) and the EvalConfig pins
`model_type="tf_keras"`, so a model that cannot load as Keras fails loudly instead.
"""

import functools

import tensorflow as tf
import tensorflow_model_analysis as tfma

MODULE_PATH = __name__


def load_keras_model(path: str) -> tf.keras.Model:
    import losses  # noqa: F401  registers every `losskit>` class in this process

    return tf.keras.models.load_model(path)


def custom_eval_shared_model(eval_saved_model_path, model_name, eval_config, **kwargs):
    """The hook TFX's Evaluator looks up in `module_path`."""
    loader = tfma.types.ModelLoader(
        construct_fn=functools.partial(load_keras_model, eval_saved_model_path),
        tags=[tf.saved_model.SERVING],
    )
    return tfma.default_eval_shared_model(
        eval_saved_model_path=eval_saved_model_path,
        model_name=model_name,
        eval_config=eval_config,
        custom_model_loader=loader,
        **kwargs,
    )
