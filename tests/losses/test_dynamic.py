"""DWA, GradNorm and FAMO: each against its paper's formula, and in Keras's own fit, a
SavedModel and MirroredStrategy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import losses
from losses import FAMO, BalancerCallback, DynamicWeightAverage, GradNorm

ROOT = Path(__file__).resolve().parents[2]


def scalars(values):
    return [tf.constant(value, tf.float32) for value in values]


# -- DWA ------------------------------------------------------------------------------------


def test_dwa_weights_follow_the_formula_on_a_recorded_history(rng):
    temperature, tasks = 2.0, 3
    layer = DynamicWeightAverage(tasks, temperature=temperature)
    history = rng.uniform(0.2, 3.0, (5, 4, tasks))  # epochs × steps × tasks
    means, expected_weights = [], np.ones(tasks)
    for epoch in history:
        for step in epoch:
            value = layer(scalars(step), training=True)
            np.testing.assert_allclose(float(value), expected_weights @ step, rtol=1e-6)
        layer.end_epoch()
        means.append(epoch.mean(0))
        if len(means) >= 2:
            ratios = means[-1] / means[-2]
            expected_weights = tasks * np.exp(ratios / temperature)
            expected_weights /= np.exp(ratios / temperature).sum()
        np.testing.assert_allclose(layer.loss_weights.numpy(), expected_weights, rtol=1e-5)
    # Not training (evaluate, predict): the state stays.
    layer(scalars([9.0, 9.0, 9.0]), training=False)
    assert float(layer.epoch_steps.numpy()) == 0
    np.testing.assert_allclose(layer.loss_weights.numpy(), expected_weights, rtol=1e-5)


def test_dwa_gives_the_slower_task_more_weight():
    layer = DynamicWeightAverage(2)
    for first, second in ((4.0, 4.0), (2.0, 3.9)):  # task 0 halves, task 1 barely moves
        layer(scalars([first, second]), training=True)
        layer.end_epoch()
    low, high = layer.loss_weights.numpy()
    assert high > 1 > low and low + high == pytest.approx(2.0)


# -- FAMO -----------------------------------------------------------------------------------


def famo_reference(loss_sequence, beta, gamma):
    """Algorithm 1 of Liu et al. (2023), in NumPy: the logits before each step."""
    xi, logits = np.zeros(loss_sequence.shape[1]), []
    for t, current in enumerate(loss_sequence):
        if t > 0:
            z = np.exp(xi) / np.exp(xi).sum()
            delta = np.log(loss_sequence[t - 1] + 1e-8) - np.log(current + 1e-8)
            jacobian = np.diag(z) - np.outer(z, z)
            xi = xi - beta * (jacobian.T @ delta + gamma * xi)
        logits.append(xi.copy())
    return logits


def test_famo_update_matches_the_paper_step_by_step(rng):
    beta, gamma = 0.5, 0.01
    sequence = rng.uniform(0.1, 5.0, (12, 3)) * np.array([1.0, 100.0, 0.01])
    layer = FAMO(3, learning_rate=beta, gamma=gamma)
    for expected, current in zip(famo_reference(sequence, beta, gamma), sequence, strict=True):
        tensors = scalars(current)
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = layer(tensors, training=True)
        np.testing.assert_allclose(layer.logits.numpy(), expected, rtol=1e-5, atol=1e-7)
        # The gradient on each task loss is c·z_k / L_k, c = 1 / Σ z / L, and the value is c.
        z = np.exp(expected) / np.exp(expected).sum()
        c = 1 / np.sum(z / (current + 1e-8))
        grads = [g.numpy() for g in tape.gradient(value, tensors)]
        np.testing.assert_allclose(grads, c * z / (current + 1e-8), rtol=1e-5)
        np.testing.assert_allclose(float(value), c, rtol=1e-5)
    assert not np.allclose(layer.logits.numpy(), 0)


def test_famo_raises_the_weight_of_the_task_that_stalls():
    layer = FAMO(2, learning_rate=1.0, gamma=0.0)
    for t in range(20):
        layer(scalars([1.0 * 0.8**t, 1.0]), training=True)  # task 0 improves, task 1 stalls
    low, high = layer.task_weights.numpy()
    assert high > 0.5 > low


# -- GradNorm -------------------------------------------------------------------------------


def two_task_problem(seed=0, n=512, scale=10.0):
    """Two regressions of the same difficulty from one trunk; the second target is `scale`×
    the first, so its MSE is ~scale² (100×) the first's and its gradient ~scale×."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    first = np.tanh(x @ rng.normal(size=(6, 1)) / np.sqrt(6))
    second = scale * np.tanh(x @ rng.normal(size=(6, 1)) / np.sqrt(6))
    return x, first.astype("float32"), second.astype("float32")


def two_task_model(balancer, seed=0, learning_rate=0.01):
    """(training model, probe model → [L_1, L_2, shared]): the two head losses balanced by
    `balancer`, or summed with fixed weights 1 when it is None."""
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input((6,), name="x")
    targets = [tf.keras.Input((1,), name=f"y{k}") for k in (1, 2)]
    shared = tf.keras.layers.Dense(16, activation="tanh", name="trunk")(x)
    heads = [tf.keras.layers.Dense(1, name=f"head{k}")(shared) for k in (1, 2)]
    terms = [
        losses.LossLayer(tf.keras.losses.MeanSquaredError(), name=f"loss{k}")(y, head)
        for k, (y, head) in enumerate(zip(targets, heads, strict=True), start=1)
    ]
    if balancer is None:
        total = tf.keras.layers.Add()(terms)
    elif isinstance(balancer, GradNorm):
        total = balancer(terms, shared)
    else:
        total = balancer(terms)
    model = tf.keras.Model([x, *targets], heads)
    model.add_loss(total)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate))
    return model, tf.keras.Model([x, *targets], [*terms, shared])


def losses_and_norms(probe, data):
    """([L_1, L_2], [‖∂L_1/∂shared‖, ‖∂L_2/∂shared‖]) on the whole data set."""

    @tf.function
    def run(inputs):
        first, second, shared = probe(inputs)
        grads = [tf.gradients(loss, shared)[0] for loss in (first, second)]
        return tf.stack([first, second]), tf.stack([tf.norm(g) for g in grads])

    return tuple(t.numpy() for t in run(data))


def gradient_norm_gap(probe, data, weights, initial, alpha):
    """|log(G_2/G_1) − log(target_2/target_1)|, G_k = w_k·‖∂L_k/∂shared‖ and GradNorm's
    target ratio (r_2/r_1)^α, r_k = L_k / L_k(0)."""
    current, norms = losses_and_norms(probe, data)
    rate = current / initial
    ratio = weights[1] * norms[1] / (weights[0] * norms[0])
    return abs(np.log(ratio) - alpha * np.log(rate[1] / rate[0]))


def test_gradnorm_moves_the_gradient_norms_toward_the_target():
    """Two tasks 100× apart in loss scale: with fixed weights the gradient-norm ratio stays
    ~10× off GradNorm's target; GradNorm's weights close most of that gap."""
    data = list(two_task_problem())
    alpha, gaps, runs = 1.5, {}, {}
    for name in ("fixed", "gradnorm"):
        layer = GradNorm(2, alpha=alpha) if name == "gradnorm" else None
        model, probe = two_task_model(layer, learning_rate=0.02)
        initial, _ = losses_and_norms(probe, data)
        start = gradient_norm_gap(probe, data, np.ones(2), initial, alpha)
        history = model.fit(
            data, batch_size=64, epochs=30, verbose=0, callbacks=[BalancerCallback()]
        ).history
        weights = layer.loss_weights.numpy() if layer else np.ones(2)
        gaps[name] = (start, gradient_norm_gap(probe, data, weights, initial, alpha))
        runs[name] = history
    assert gaps["fixed"][0] > 1.5 and gaps["fixed"][1] > 1.5, gaps  # ~log 10 off the target
    assert gaps["gradnorm"][1] < 0.5 * gaps["fixed"][1], gaps
    weights = np.array([runs["gradnorm"][f"grad_norm/weight_{k}"] for k in (0, 1)])
    assert np.all(weights > 0)
    np.testing.assert_allclose(weights.sum(0), 2.0, rtol=1e-5)
    assert weights[0, -1] > 2 * weights[1, -1]  # the small-scale task is weighted up


def test_gradnorm_in_eager_training_is_a_clear_error():
    with pytest.raises(RuntimeError, match="graph mode"):
        GradNorm(2)(scalars([1.0, 2.0]), tf.ones((2, 3)), training=True)
    assert float(GradNorm(2)(scalars([1.0, 2.0]), tf.ones((2, 3)))) == 3.0


def test_last_shared_tensor_is_where_the_heads_branch():
    model, _ = two_task_model(GradNorm(2))
    heads_only = tf.keras.Model(model.inputs[0], model.outputs)
    assert losses.last_shared_tensor(heads_only)._keras_history.layer.name == "trunk"
    x = tf.keras.Input((3,))
    separate = tf.keras.Model(x, [tf.keras.layers.Dense(1)(x), tf.keras.layers.Dense(1)(x)])
    with pytest.raises(ValueError, match="share no layer"):
        losses.last_shared_tensor(separate)


# -- all three: in fit, a SavedModel, bad arguments -------------------------------------------

BALANCERS = [
    lambda: DynamicWeightAverage(2, temperature=1.5, name="balancer"),
    lambda: GradNorm(2, alpha=1.0, name="balancer"),
    lambda: FAMO(2, learning_rate=0.05, name="balancer"),
]
IDS = ["dwa", "gradnorm", "famo"]


@pytest.mark.parametrize("make", BALANCERS, ids=IDS)
def test_saved_model_loads_without_custom_objects(make, tmp_path):
    model, _ = two_task_model(make())
    data = list(two_task_problem(n=128))
    history = model.fit(data, batch_size=32, epochs=3, verbose=0, callbacks=[BalancerCallback()])
    assert np.all(np.isfinite(history.history["loss"]))
    expected = model.evaluate(data, batch_size=128, verbose=0)
    state = [v.numpy() for v in model.get_layer("balancer").weights]
    for path in (tmp_path / "saved_model", tmp_path / "model.keras"):
        model.save(path)
        loaded = tf.keras.models.load_model(path)
        layer = loaded.get_layer("balancer")
        assert type(layer) is type(model.get_layer("balancer"))
        assert layer.get_config() == model.get_layer("balancer").get_config()
        for variable, value in zip(layer.weights, state, strict=True):
            np.testing.assert_allclose(variable.numpy(), value, rtol=1e-6)
        np.testing.assert_allclose(
            loaded.evaluate(data, batch_size=128, verbose=0), expected, rtol=1e-5
        )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DynamicWeightAverage(1), "num_losses"),
        (lambda: DynamicWeightAverage(2, temperature=0), "temperature"),
        (lambda: GradNorm(2, alpha=-1), "alpha"),
        (lambda: FAMO(2, learning_rate="fast"), "learning_rate"),
        (lambda: FAMO(2, gamma=-0.1), "gamma"),
    ],
)
def test_bad_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_the_loss_list_is_checked():
    with pytest.raises(ValueError, match="2 scalar losses; got 3"):
        FAMO(2)(scalars([1.0, 2.0, 3.0]))


# -- MirroredStrategy over two logical CPUs (a fresh interpreter) -----------------------------

SCRIPT = """
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
import losses
from tests.losses.test_dynamic import BALANCERS, IDS, two_task_model, two_task_problem

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
data = list(two_task_problem(n=256))
report = {}
for name, make in zip(IDS, BALANCERS):
    with strategy.scope():
        model, _ = two_task_model(make())
    history = model.fit(data, batch_size=64, epochs=3, verbose=0,
                        callbacks=[losses.BalancerCallback()]).history
    layer = model.get_layer("balancer")
    replicas = {v.name: [r.numpy().tolist() for r in v.values] for v in layer.weights}
    report[name] = {"loss": history["loss"], "replicas": replicas,
                    "weight_0": history["balancer/weight_0"]}
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "report": report}))
"""


def test_each_balancer_trains_under_mirrored_strategy():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for name, run in result["report"].items():
        assert np.all(np.isfinite(run["loss"])), name
        assert run["loss"][-1] < run["loss"][0], name
        for variable, values in run["replicas"].items():
            np.testing.assert_allclose(values[0], values[1], err_msg=f"{name} {variable}")
        assert run["weight_0"][-1] != pytest.approx(1.0), name  # the weights moved
    gradnorm = result["report"]["gradnorm"]["replicas"]
    (weights,) = (v for k, v in gradnorm.items() if "loss_weights" in k)
    assert sum(weights[0]) == pytest.approx(2.0, rel=1e-5)
