"""Whether the ops being built now will be compiled by XLA, for kernels that pick a different
formulation there (XLA fuses elementwise passes itself and lacks some TF kernels)."""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # the XLA context test tf_keras uses too


def compiled_by_xla():
    """Whether ops built now go to XLA: inside ``tf.function(jit_compile=True)`` (or a function
    nested in one), which enters an XLA control-flow context while it traces."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
