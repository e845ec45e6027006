"""Multi-task balancers compared at equal epochs: fixed weights, uncertainty, alpha, DWA,
GradNorm and FAMO, on two two-head problems, each over several seeds.

* ``multitask``: the multitask task's data (palmerpenguins, 344 rows): species (3 classes,
  ClassWeightedCrossentropy with the balanced table) and body mass (z-scored, MSE), the
  shipped spec's model (`mlp`, 16 hidden units) and trainer settings (batch 16, Adam 0.02);
  features prepared in NumPy as tf.Transform prepares them (z-scores, one-hot categories).
* ``scales``: a seeded problem whose heads differ in scale and noise: a 4-class head with
  15 % of its labels flipped, and a regression head whose target is 100× larger with noise
  of 30 % of its spread (MSE ~10⁴× the cross-entropy at the start).

Every method is the pipeline's own wiring (`components.trainer.build.balance` and
`heads_and_trunk`, the spec's `balancer` defaults), trained in this process one run after
another. Metrics on a held-out 25 % split: accuracy (higher is better) and the regression's
MSE over the target's variance, NMSE (lower is better). Step time: the median of each epoch's
mean step time after the first epoch (tracing excluded), relative to fixed weights.
"""

import os
import statistics
import time

import numpy as np

METHODS = ("fixed", "uncertainty", "alpha", "dwa", "gradnorm", "famo")
PROBLEMS = {
    "multitask": {"epochs": 60, "batch_size": 16, "learning_rate": 0.02, "hidden": 16, "depth": 1},
    "scales": {"epochs": 30, "batch_size": 64, "learning_rate": 0.01, "hidden": 32, "depth": 2},
}
SEEDS = (0, 1, 2)


def _split(n, seed, held_out=0.25):
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * (1 - held_out)))
    return order[:cut], order[cut:]


def _zscore(train, values):
    mean, std = np.nanmean(train, 0), np.nanstd(train, 0)
    return np.nan_to_num((values - mean) / np.where(std > 0, std, 1.0))


def multitask_data(seed):
    """(numeric (N, 4), categorical {name: ids}, class ids (N,), body mass (N,), train, test)
    from the palmerpenguins CSV; rows without species or body mass are dropped."""
    from pipelines.datasets.penguins import load_rows

    header, rows = load_rows()
    column = {name: header.index(name) for name in header}
    rows = [r for r in rows if r[column["species"]] and r[column["body_mass_g"]]]

    def floats(name):
        return np.array([float(r[column[name]]) if r[column[name]] else np.nan for r in rows])

    numeric = np.stack(
        [floats(n) for n in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm")], 1
    )
    species = sorted({r[column["species"]] for r in rows})
    labels = np.array([species.index(r[column["species"]]) for r in rows])
    categorical = {}
    for name in ("island", "sex"):
        values = sorted({r[column[name]] for r in rows if r[column[name]]})
        # 0 is "missing", as the Transform's vocabulary leaves it.
        categorical[name] = np.array(
            [values.index(r[column[name]]) + 1 if r[column[name]] else 0 for r in rows]
        )
    train, test = _split(len(rows), seed)
    mass = floats("body_mass_g")
    return (
        _zscore(numeric[train], numeric),
        categorical,
        labels,
        _zscore(mass[train], mass),
        train,
        test,
    )


def scales_data(seed, n=4000, classes=4):
    rng = np.random.default_rng(1000 + seed)
    x = rng.normal(size=(n, 10))
    logits = np.tanh(x @ rng.normal(size=(10, 16))) @ rng.normal(size=(16, classes))
    labels = logits.argmax(1)
    flip = rng.random(n) < 0.15
    labels[flip] = rng.integers(0, classes, flip.sum())
    signal = np.sin(x @ rng.normal(size=(10,)) / 2) + 0.5 * np.tanh(x[:, 0] * x[:, 1])
    target = 100 * (signal + 0.3 * signal.std() * rng.normal(size=n))
    train, test = _split(n, seed)
    return x, {}, labels, target, train, test


def _balanced(labels, classes):
    """n / (C·n_c), the Transform's `balanced` class-weight table."""
    counts = np.bincount(labels, minlength=classes)
    return (len(labels) / (classes * np.maximum(counts, 1))).tolist()


class _StepTimer:
    def __init__(self):
        import tensorflow as tf

        class Timer(tf.keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epochs = []

            def on_epoch_begin(self, epoch, logs=None):
                self._steps, self._start = 0, time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self._steps += 1

            def on_epoch_end(self, epoch, logs=None):
                self.epochs.append((time.perf_counter() - self._start) / max(self._steps, 1))

        self.callback = Timer()

    def step_seconds(self):
        return statistics.median(self.callback.epochs[1:] or self.callback.epochs)


def train_once(problem, method, seed):
    import tensorflow as tf

    import losses
    from components import spec as spec_lib
    from components.trainer import build, models

    settings = PROBLEMS[problem]
    numeric, categorical, labels, target, train, test = (
        multitask_data(seed) if problem == "multitask" else scales_data(seed)
    )
    classes = int(labels.max()) + 1
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    inputs = {"numeric": tf.keras.Input((numeric.shape[1],), name="numeric")}
    for name in categorical:
        inputs[name] = tf.keras.Input((), name=name, dtype=tf.int64)
    model_inputs = models.ModelInputs(
        inputs=inputs,
        numeric=("numeric",),
        categorical={name: int(ids.max()) + 1 for name, ids in categorical.items()},
    )
    outputs = [
        models.Output("label", "classification", classes),
        models.Output("value", "regression", 1),
    ]
    export = models.mlp(model_inputs, outputs, hidden=settings["hidden"], depth=settings["depth"])
    balancer = spec_lib.Balancer(
        method=method, weights={"label": 1.0, "value": 1.0} if method == "fixed" else None
    )
    predicted, shared = build.heads_and_trunk(export, balancer)
    y_class = tf.keras.Input((), name="y_class", dtype=tf.int64)
    y_value = tf.keras.Input((1,), name="y_value")
    terms = [
        losses.LossLayer(losses.ClassWeightedCrossentropy(_balanced(labels[train], classes)))(
            y_class, predicted["label"]
        ),
        losses.LossLayer(tf.keras.losses.MeanSquaredError())(y_value, predicted["value"]),
    ]
    model = tf.keras.Model([export.input, y_class, y_value], predicted)
    model.add_loss(build.balance(balancer, terms, ["label", "value"], shared))
    model.compile(optimizer=tf.keras.optimizers.Adam(settings["learning_rate"]))

    def features(rows):
        return {"numeric": numeric[rows], **{k: v[rows] for k, v in categorical.items()}}

    timer = _StepTimer()
    data = (features(train), labels[train], target[train][:, None].astype("float32"))
    model.fit(
        data,
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        shuffle=True,
        verbose=0,
        callbacks=[losses.BalancerCallback(), timer.callback],
    )
    predicted = export.predict(features(test), batch_size=1024, verbose=0)
    accuracy = float(np.mean(predicted["label"].argmax(1) == labels[test]))
    nmse = float(np.mean((predicted["value"][:, 0] - target[test]) ** 2) / np.var(target[test]))
    return {"accuracy": accuracy, "nmse": nmse, "step_seconds": timer.step_seconds()}


def run(methods=METHODS, problems=tuple(PROBLEMS), seeds=SEEDS):
    from benchmarks import measure

    host, started_run, rows = measure.host_info(), time.perf_counter(), []
    for problem in problems:
        for method in methods:
            for seed in seeds:
                started = time.perf_counter()
                row = {"problem": problem, "method": method, "seed": seed}
                row.update(train_once(problem, method, seed))
                measure.log(
                    f"{problem} {method} seed {seed}: accuracy {row['accuracy']:.3f}, "
                    f"NMSE {row['nmse']:.3f} ({time.perf_counter() - started:.0f} s)"
                )
                rows.append(row)
    config = {
        "problems": {p: PROBLEMS[p] for p in problems},
        "seeds": list(seeds),
        "load_average_end": list(os.getloadavg()),
        "wall_s": time.perf_counter() - started_run,
    }
    return {"kind": "balancers", "host": host, "config": config, "runs": rows}


def _mean_and_spread(runs, key):
    values = [run[key] for run in runs]
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summary_rows(document):
    """Per (problem, method): mean and spread of each metric, step time × fixed."""
    by_key = {}
    for row in document["runs"]:
        by_key.setdefault((row["problem"], row["method"]), []).append(row)
    fixed = {
        problem: statistics.median(r["step_seconds"] for r in runs)
        for (problem, method), runs in by_key.items()
        if method == "fixed"
    }
    table = []
    for (problem, method), runs in by_key.items():
        step = statistics.median(r["step_seconds"] for r in runs)
        table.append(
            {
                "problem": problem,
                "method": method,
                "accuracy": _mean_and_spread(runs, "accuracy"),
                "nmse": _mean_and_spread(runs, "nmse"),
                "step_seconds": step,
                "step_vs_fixed": step / fixed[problem] if problem in fixed else None,
            }
        )
    return table
