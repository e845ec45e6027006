"""Argument checks and dtype handling shared by the losskit losses, layers and metrics.

Static checks raise ``ValueError`` at call or trace time from static shapes. Value checks are
``tf.debugging.Assert`` ops: they raise ``tf.errors.InvalidArgumentError`` eagerly and inside
``tf.function``, but XLA drops Assert ops, so under ``jit_compile=True`` they do not run.
"""

import math
import numbers

import tensorflow as tf

# Keras's default backend epsilon, pinned so values never depend on tf.keras.backend state.
EPSILON = 1e-7


def compute_dtype(y_pred):
    """The dtype a loss computes in: float64 stays float64, everything else is float32.

    Half-precision inputs lose too much in reductions, so they are upcast; float64 is kept so
    gradients can be checked against finite differences without float32 round-off.
    """
    return tf.float64 if y_pred.dtype == tf.float64 else tf.float32


def keras_mask(y_pred):
    """The mask a ``Masking``/``Embedding(mask_zero=True)`` layer left on ``y_pred``, or None."""
    return getattr(y_pred, "_keras_mask", None)


def shape_error(owner, message, **shapes):
    """A ValueError that names the object, the argument at fault and the shapes involved."""
    got = ", ".join(f"{arg} shape {tuple(shape)}" for arg, shape in shapes.items())
    return ValueError(f"{owner}: {message}; got {got}.")


def check_rank(owner, arg, tensor, ranks):
    """Raises unless ``tensor``'s static rank (when known) is one of ``ranks``."""
    if tensor.shape.rank is not None and tensor.shape.rank not in ranks:
        expected = " or ".join(str(rank) for rank in ranks)
        raise shape_error(owner, f"`{arg}` must have rank {expected}", **{arg: tensor.shape})


def check_compatible(owner, message, **shapes):
    """Raises unless all the given static shapes are compatible with one another."""
    first, *rest = shapes.values()
    for shape in rest:
        if not tf.TensorShape(first).is_compatible_with(shape):
            raise shape_error(owner, message, **shapes)


def matrix_pair(owner, y_true, y_pred, message):
    """(y_true, y_pred) as tensors in y_pred's compute dtype; y_pred must be (B, K) and
    y_true's shape compatible with it (`message` says what both must be)."""
    y_pred = tf.convert_to_tensor(y_pred)
    y_pred = tf.cast(y_pred, compute_dtype(y_pred))
    y_true = tf.cast(tf.convert_to_tensor(y_true), y_pred.dtype)
    check_rank(owner, "y_pred", y_pred, (2,))
    check_compatible(owner, message, y_true=y_true.shape, y_pred=y_pred.shape)
    return y_true, y_pred


def check_size(owner, tensor, size, message, name):
    """``tensor``, checked to have ``size`` entries on its last axis: raises ValueError with
    ``message`` when that size is static, else attaches an Assert op (which XLA drops)."""
    if tensor.shape[-1] is not None:
        if tensor.shape[-1] != size:
            raise shape_error(owner, message, **{name: tensor.shape})
        return tensor
    assertion = tf.debugging.assert_equal(
        tf.shape(tensor)[-1], size, message=f"{owner}: {message}; `{name}` shape ="
    )
    with tf.control_dependencies([assertion]):
        return tf.identity(tensor)


def check_length(owner, arg, length, tensor, what, name):
    """:func:`check_size` for a per-entry argument of ``length`` entries (``arg``)."""
    dim = tensor.shape[-1]
    found = f"is {dim}" if dim is not None else "differs"
    return check_size(
        owner, tensor, length, f"`{arg}` has length {length} but {what} {found}", name
    )


def align_mask(owner, mask, like):
    """A boolean Keras mask broadcast to ``like``'s shape (a trailing 1 is squeezed)."""
    mask = tf.cast(mask, tf.bool)
    if mask.shape.rank == like.shape.rank + 1 and mask.shape[-1] == 1:
        mask = tf.squeeze(mask, -1)
    check_compatible(
        owner,
        "the Keras mask on `y_pred` does not match the loss elements",
        mask=mask.shape,
        elements=like.shape,
    )
    return tf.broadcast_to(mask, tf.shape(like))


def assert_class_ids(owner, labels, num_classes, real, arg="y_true"):
    """``labels`` with an attached check that ids at ``real`` positions lie in [0, num_classes).

    Positions that are not real (padding, masked) are not checked. The check is an Assert op:
    it is skipped under XLA (``jit_compile=True``), where out-of-range ids give garbage.
    """
    bad = tf.logical_and(real, tf.logical_or(labels < 0, labels >= num_classes))
    assertion = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad)),
        [
            f"{owner}: `{arg}` holds class ids outside [0, num_classes) at real positions;"
            " num_classes =",
            num_classes,
            f"`{arg}` shape =",
            tf.shape(labels),
            "offending ids =",
            tf.reduce_sum(tf.cast(bad, tf.int32)),
        ],
    )
    with tf.control_dependencies([assertion]):
        return tf.identity(labels)


def check_bool(owner, arg, value):
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: `{arg}` must be True or False; got {value!r}.")
    return value


def check_int(owner, arg, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{owner}: `{arg}` must be an integer; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: `{arg}` must be >= {minimum}; got {value}.")
    return int(value)


def check_floats(owner, arg, values, non_negative=False):
    """A non-empty 1-D sequence of finite floats as a list (JSON-friendly for get_config)."""
    try:
        floats = [float(value) for value in values]
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: `{arg}` must be a 1-D sequence of numbers; got {values!r}."
        ) from None
    if not floats:
        raise ValueError(f"{owner}: `{arg}` must not be empty.")
    if not all(math.isfinite(value) for value in floats):
        raise ValueError(f"{owner}: `{arg}` must be finite; got {floats}.")
    if non_negative and min(floats) < 0:
        raise ValueError(f"{owner}: `{arg}` must be non-negative; got {floats}.")
    return floats


def check_weight(owner, arg, value):
    """A non-negative finite scalar (as float) or 1-D sequence (as list of floats)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_floats(owner, arg, [value], non_negative=True)[0]
    return check_floats(owner, arg, value, non_negative=True)


def check_mask_value(owner, mask_value):
    """`mask_value` as a float, or None; the padding sentinel of sequence targets."""
    if mask_value is None:
        return None
    if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
        raise ValueError(f"{owner}: `mask_value` must be a number or None; got {mask_value!r}.")
    return float(mask_value)


def check_cost_matrix(owner, cost_matrix):
    """A (C, C) list of lists of finite, non-negative floats with a zero diagonal."""
    try:
        rows = [[float(value) for value in row] for row in cost_matrix]
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: `cost_matrix` must be a (C, C) matrix of numbers; got {cost_matrix!r}."
        ) from None
    size = len(rows)
    if size < 2 or any(len(row) != size for row in rows):
        shape = [len(row) for row in rows]
        raise ValueError(
            f"{owner}: `cost_matrix` must be square, (C, C) with C >= 2; got row lengths {shape}."
        )
    values = [value for row in rows for value in row]
    if not all(math.isfinite(value) and value >= 0 for value in values):
        raise ValueError(f"{owner}: `cost_matrix` must be finite and non-negative; got {rows}.")
    diagonal = [rows[i][i] for i in range(size)]
    if any(diagonal):
        raise ValueError(
            f"{owner}: `cost_matrix` must have a zero diagonal (a right decision costs"
            f" nothing; the −log p term already rewards it); got diagonal {diagonal}."
        )
    return rows


def as_steps(owner, arg, x):
    """(B, T, 1) → (B, T); anything else that is not (B, T) is an error naming ``arg``."""
    if x.shape.rank == 3 and x.shape[-1] == 1:
        return tf.squeeze(x, -1)
    if x.shape.rank is not None and x.shape.rank != 2:
        raise shape_error(owner, f"`{arg}` must be (B, T) or (B, T, 1)", **{arg: x.shape})
    return x


def unmasked_steps(y_true, mask_value):
    """(B, T) bool, the steps whose target is not ``mask_value`` (NaN: not NaN); None when
    ``mask_value`` is None."""
    if mask_value is None:
        return None
    if math.isnan(mask_value):
        return tf.logical_not(tf.math.is_nan(y_true))
    return tf.not_equal(y_true, tf.cast(mask_value, y_true.dtype))


def float_pair(y_true, y_pred):
    """(y_true, y_pred) as tensors in y_pred's compute dtype, and y_pred's Keras mask (or
    None), read before the conversion drops it."""
    mask = keras_mask(y_pred)
    y_pred = tf.convert_to_tensor(y_pred)
    y_pred = tf.cast(y_pred, compute_dtype(y_pred))
    return tf.cast(tf.convert_to_tensor(y_true), y_pred.dtype), y_pred, mask
