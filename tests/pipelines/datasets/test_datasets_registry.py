import dataclasses
import filecmp
import os

import numpy as np
import pytest

from pipelines import datasets
from pipelines.datasets import hmm, lds, multilabel, penguins

SMALL = {"penguins": 50, "tagging": 40, "correlation": 40, "multilabel": 60}


def test_registry_maps_every_task():
    assert datasets.DATASETS == {
        "penguins": penguins,
        "multitask": penguins,
        "tagging": hmm,
        "correlation": lds,
        "multilabel": multilabel,
    }


def test_write_default_unknown_task(tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        datasets.write_default("nope", str(tmp_path))


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_bad_num_examples(tmp_path, n):
    with pytest.raises(ValueError):
        hmm.write(str(tmp_path), num_examples=n)


def test_info_and_metadata(written):
    expected = {
        "penguins": ("data.csv", "csv", 344),
        "tagging": ("data.tfrecord", "tfrecord", 2000),
        "correlation": ("data.tfrecord", "tfrecord", 2000),
        "multilabel": ("data.tfrecord", "tfrecord", 3000),
    }
    for task, info in written.items():
        name, fmt, n = expected[task]
        assert (info.file_name, info.format, info.num_examples) == (name, fmt, n)
        assert sorted(os.listdir(info.directory)) == sorted([name, datasets.METADATA_FILE])
        meta = datasets.read_metadata(info.directory)
        assert meta == info.metadata
        assert (meta["file"], meta["format"], meta["num_examples"], meta["seed"]) == (
            name,
            fmt,
            n,
            0,
        )
        assert task in meta["tasks"]
        with pytest.raises(dataclasses.FrozenInstanceError):
            info.num_examples = 1


@pytest.mark.parametrize("task", sorted(SMALL))
def test_same_seed_same_bytes(tmp_path, task):
    module = datasets.DATASETS[task]
    a = module.write(str(tmp_path / "a"), seed=3, num_examples=SMALL[task])
    b = module.write(str(tmp_path / "b"), seed=3, num_examples=SMALL[task])
    c = module.write(str(tmp_path / "c"), seed=4, num_examples=SMALL[task])
    for name in (a.file_name, datasets.METADATA_FILE):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False)
    assert not filecmp.cmp(a.path, c.path, shallow=False)
    assert a.num_examples == b.num_examples == SMALL[task]
    assert a.metadata == b.metadata


def test_default_write_is_deterministic(tmp_path, written):
    again = datasets.write_default("tagging", str(tmp_path / "t"))
    assert filecmp.cmp(again.path, written["tagging"].path, shallow=False)
    assert again.metadata == written["tagging"].metadata


def test_dot_matches_matmul():
    from pipelines.datasets._common import dot

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 7, 3)), rng.standard_normal((3, 5))
    np.testing.assert_allclose(dot(a, b), a @ b, rtol=1e-12, atol=1e-12)
