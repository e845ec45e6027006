"""TFX Trainer pieces: run_fn, model builders, loss-from-config, distribution."""
