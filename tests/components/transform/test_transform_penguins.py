"""penguins and multitask preprocessing_fns on the full palmerpenguins CSV."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from components.transform import (
    MISSING_ID,
    multitask_preprocessing_fn,
    penguins_preprocessing_fn,
    read_species_class_weights,
)
from components.transform.tasks import PENGUIN_MEASUREMENTS

SCALAR_INT = tf.io.FixedLenFeature([], tf.int64)
SCALAR_FLOAT = tf.io.FixedLenFeature([], tf.float32)
PENGUINS_OUTPUTS = {
    "species_id": SCALAR_INT,
    "example_weight": SCALAR_FLOAT,
    "island_id": SCALAR_INT,
    "sex_id": SCALAR_INT,
    **{f"{name}_z": SCALAR_FLOAT for name in PENGUIN_MEASUREMENTS},
}

# tf.Transform's vocabulary order: most frequent first (152 / 124 / 68 rows).
SPECIES_IN_ID_ORDER = ["Adelie", "Gentoo", "Chinstrap"]


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
    run = run_transform(penguins_preprocessing_fn, penguin_rows, penguin_spec)
    assert run.output_spec() == PENGUINS_OUTPUTS

    names, weights = read_species_class_weights(run.output, {})
    assert names == SPECIES_IN_ID_ORDER
    expected = compute_class_weight("balanced", classes=np.array(names), y=species)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    np.testing.assert_allclose(weights, [344 / (3 * 152), 344 / (3 * 124), 344 / (3 * 68)])

    ids = run.column("species_id")
    assert [names[i] for i in ids] == species.tolist()
    np.testing.assert_allclose(run.column("example_weight"), expected[ids], rtol=1e-6)

    for name in PENGUIN_MEASUREMENTS:
        z = run.column(f"{name}_z")
        np.testing.assert_allclose(z, numpy_z_score(penguin_rows, name), atol=1e-5)
    for name in ("island", "sex"):
        check_category_ids(run.column(f"{name}_id"), [row[name] for row in penguin_rows])
    # The Trainer sizes one-hots / embeddings from the schema: missing + values + OOV.
    assert run.output.num_buckets_for_transformed_feature("island_id") == 1 + 3 + 1
    assert run.output.num_buckets_for_transformed_feature("sex_id") == 1 + 2 + 1
    assert sum(row["sex"] is None for row in penguin_rows) == 11

    run.assert_serving_matches()


def test_multitask_body_mass_target_and_effective_number_weights(
    run_transform, penguin_rows, penguin_spec, species
):
    config = {"class_weight_scheme": "effective_number", "class_weight_beta": 0.99}
    run = run_transform(
        lambda inputs: multitask_preprocessing_fn(inputs, config), penguin_rows, penguin_spec
    )

    expected_outputs = {**PENGUINS_OUTPUTS, "body_mass_target": SCALAR_FLOAT}
    expected_outputs["body_mass_present"] = expected_outputs.pop("body_mass_g_z")
    assert run.output_spec() == expected_outputs
    present = np.array([row["body_mass_g"] is not None for row in penguin_rows])
    assert (~present).sum() == 2
    np.testing.assert_array_equal(run.column("body_mass_present"), present.astype(np.float32))
    np.testing.assert_allclose(
        run.column("body_mass_target"), numpy_z_score(penguin_rows, "body_mass_g"), atol=1e-5
    )

    names, weights = read_species_class_weights(run.output, config)
    counts = np.array([(species == name).sum() for name in names])
    raw = (1 - 0.99) / (1 - 0.99**counts)
    np.testing.assert_allclose(weights, raw * 3 / raw.sum(), rtol=1e-6)
    np.testing.assert_allclose(
        run.column("example_weight"), np.array(weights)[run.column("species_id")], rtol=1e-6
    )

    run.assert_serving_matches()
