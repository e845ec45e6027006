"""The spec-driven preprocessing_fn on the full palmerpenguins CSV: classification and multitask."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from components import spec as spec_lib
from components.transform import MISSING_ID, preprocessing_fn, read_class_weight_table

MEASUREMENTS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
CATEGORIES = ("island", "sex")
SCALAR_INT = tf.io.FixedLenFeature([], tf.int64)
SCALAR_FLOAT = tf.io.FixedLenFeature([], tf.float32)
PENGUINS_OUTPUTS = {
    "label": SCALAR_INT,
    "example_weight": SCALAR_FLOAT,
    "x_island": SCALAR_INT,
    "x_sex": SCALAR_INT,
    **{f"x_{name}": SCALAR_FLOAT for name in MEASUREMENTS},
}
PENGUINS_SPEC = {
    "name": "penguins",
    "kind": "classification",
    "label": {"column": "species", "class_weight": "balanced"},
    "features": {"numeric": list(MEASUREMENTS), "categorical": list(CATEGORIES)},
}
MULTITASK_SPEC = {
    "name": "multitask",
    "kind": "multitask",
    "heads": [
        {
            "name": "species",
            "kind": "classification",
            "column": "species",
            "class_weight": "effective_number",
            "beta": 0.99,
        },
        {"name": "body_mass", "kind": "regression", "column": "body_mass_g"},
    ],
    "features": {"numeric": list(MEASUREMENTS[:3]), "categorical": list(CATEGORIES)},
}

# tf.Transform's vocabulary order: most frequent first (152 / 124 / 68 rows).
SPECIES_IN_ID_ORDER = ["Adelie", "Gentoo", "Chinstrap"]


def with_spec(spec):
    """The preprocessing_fn as TFX's Transform calls it, custom_config bound."""
    return lambda inputs: preprocessing_fn(inputs, {"spec": spec})


def numpy_z_score(rows, name):
    """(x − mean) / std over the present values (population std), 0 where missing."""
    values = np.array([np.nan if row[name] is None else row[name] for row in rows])
    present = ~np.isnan(values)
    mean, std = values[present].mean(), values[present].std()
    return np.where(present, (values - mean) / std, 0.0)


def check_category_ids(ids, raw_values):
    """Missing → MISSING_ID; each distinct value its own id in 1..V."""
    ids_by_value = {}
    for id_, value in zip(ids, raw_values, strict=True):
        if value is None:
            assert id_ == MISSING_ID
        else:
            assert ids_by_value.setdefault(value, id_) == id_
    assert sorted(ids_by_value.values()) == list(range(1, len(ids_by_value) + 1))


@pytest.fixture(scope="module")
def species(penguin_rows):
    return np.array([row["species"] for row in penguin_rows])


def test_penguins_balanced_weights_match_sklearn(
    run_transform, penguin_rows, penguin_spec, species
):
    run = run_transform(with_spec(PENGUINS_SPEC), penguin_rows, penguin_spec)
    assert run.output_spec() == PENGUINS_OUTPUTS

    names, weights = read_class_weight_table(run.output, spec_lib.head_vocab(""))
    assert spec_lib.head_vocab("") == "label"
    assert names == SPECIES_IN_ID_ORDER
    expected = compute_class_weight("balanced", classes=np.array(names), y=species)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    np.testing.assert_allclose(weights, [344 / (3 * 152), 344 / (3 * 124), 344 / (3 * 68)])

    ids = run.column("label")
    assert [names[i] for i in ids] == species.tolist()
    np.testing.assert_allclose(run.column("example_weight"), expected[ids], rtol=1e-6)

    for name in MEASUREMENTS:
        z = run.column(f"x_{name}")
        np.testing.assert_allclose(z, numpy_z_score(penguin_rows, name), atol=1e-5)
    for name in CATEGORIES:
        check_category_ids(run.column(f"x_{name}"), [row[name] for row in penguin_rows])
        # The vocabulary file is named as the output.
        vocabulary = {t.decode() for t in run.output.vocabulary_by_name(f"x_{name}")}
        assert vocabulary - {"__missing__"} == {row[name] for row in penguin_rows} - {None}
    # The Trainer sizes one-hots / embeddings from the schema: missing + values + OOV.
    assert run.output.num_buckets_for_transformed_feature("x_island") == 1 + 3 + 1
    assert run.output.num_buckets_for_transformed_feature("x_sex") == 1 + 2 + 1
    assert sum(row["sex"] is None for row in penguin_rows) == 11

    run.assert_serving_matches()
    # Serving requests carry no label: the features do not depend on it.
    served = run.serve(drop=("species",))
    for name in PENGUINS_OUTPUTS:
        if name not in ("label", "example_weight"):
            np.testing.assert_allclose(served[name], run.column(name), err_msg=name)


def test_multitask_body_mass_target_and_effective_number_weights(
    run_transform, penguin_rows, penguin_spec, species
):
    run = run_transform(with_spec(MULTITASK_SPEC), penguin_rows, penguin_spec)

    expected_outputs = {
        "species_label": SCALAR_INT,
        "species_weight": SCALAR_FLOAT,
        "body_mass_label": SCALAR_FLOAT,
        "body_mass_present": SCALAR_FLOAT,
        "x_island": SCALAR_INT,
        "x_sex": SCALAR_INT,
        **{f"x_{name}": SCALAR_FLOAT for name in MEASUREMENTS[:3]},
    }
    assert run.output_spec() == expected_outputs
    present = np.array([row["body_mass_g"] is not None for row in penguin_rows])
    assert (~present).sum() == 2
    np.testing.assert_array_equal(run.column("body_mass_present"), present.astype(np.float32))
    np.testing.assert_allclose(
        run.column("body_mass_label"), numpy_z_score(penguin_rows, "body_mass_g"), atol=1e-5
    )
    for name in MEASUREMENTS[:3]:
        np.testing.assert_allclose(
            run.column(f"x_{name}"), numpy_z_score(penguin_rows, name), atol=1e-5
        )

    names, weights = read_class_weight_table(
        run.output, spec_lib.head_vocab("species"), scheme="effective_number", beta=0.99
    )
    assert spec_lib.head_vocab("species") == "species_label"
    assert names == SPECIES_IN_ID_ORDER
    counts = np.array([(species == name).sum() for name in names])
    raw = (1 - 0.99) / (1 - 0.99**counts)
    np.testing.assert_allclose(weights, raw * 3 / raw.sum(), rtol=1e-6)
    ids = run.column("species_label")
    assert [names[i] for i in ids] == species.tolist()
    np.testing.assert_allclose(run.column("species_weight"), np.array(weights)[ids], rtol=1e-6)

    run.assert_serving_matches()
