"""TFX Evaluator pieces: EvalConfig builders, the Keras model loader, TFMA custom metrics."""
