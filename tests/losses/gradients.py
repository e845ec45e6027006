"""Gradients of scalar losses as NumPy: the tape's, and central differences to check them."""

import numpy as np
import tensorflow as tf


def tape_gradient(fn, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
    return value.numpy(), tape.gradient(value, x).numpy()


def numeric_gradient(fn, x, eps):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (float(fn(tf.constant(up))) - float(fn(tf.constant(down)))) / (2 * eps)
    return grad
