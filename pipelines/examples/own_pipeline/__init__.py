"""A user's own TFX pipeline wiring losskit's Transform, Trainer and Evaluator pieces by dotted
path, driven by a task spec, with the user's own model builder (see README.md here)."""
