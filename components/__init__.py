"""losskit components: TFX-facing pieces (see docs/design.md)."""

import os

# tf.keras must be Keras 2 (tf_keras) everywhere: tensorflow_transform requires it, and the
# flag is read when tf.keras is first touched, so setting it here covers every entry point.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
