"""custom_config parsing, strategy choice and loss resolution, without training."""

import json

import pytest

import losses
from components.trainer import distribution
from components.trainer.config import TrainerConfig
from components.trainer.tasks import resolve_loss


def test_config_defaults_and_validation():
    config = TrainerConfig.from_custom_config({"task": "penguins"})
    assert (config.epochs, config.batch_size, config.distribution) == (20, 32, "auto")
    with pytest.raises(ValueError, match="task must be one of penguins, multitask"):
        TrainerConfig.from_custom_config({"task": "nope"})
    with pytest.raises(ValueError, match=r"unknown keys \['epoch'\]"):
        TrainerConfig.from_custom_config({"task": "penguins", "epoch": 3})
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        TrainerConfig.from_custom_config({"task": "penguins", "epochs": 0})
    with pytest.raises(ValueError, match="distribution must be one of"):
        TrainerConfig.from_custom_config({"task": "penguins", "distribution": "tpu"})


def test_loss_spec_shape_per_task():
    per_head = {"species": "class_weighted_ce", "body_mass": {"name": "ccc"}}
    assert (
        TrainerConfig.from_custom_config({"task": "multitask", "loss": per_head}).loss == per_head
    )
    for flat in ("bpmll", {"name": "bpmll"}, {"species": "bpmll", "weight": "mse"}, {}):
        with pytest.raises(ValueError, match="the multitask loss is one spec per head"):
            TrainerConfig.from_custom_config({"task": "multitask", "loss": flat})
    assert TrainerConfig.from_custom_config({"task": "penguins", "loss": "bpmll"}).loss == "bpmll"
    with pytest.raises(ValueError, match="the tagging loss is a name or one"):
        TrainerConfig.from_custom_config({"task": "tagging", "loss": {"species": "bpmll"}})


def test_default_strategy_on_a_single_cpu(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = distribution.choose_strategy("auto")
    assert strategy.num_replicas_in_sync == 1
    assert distribution.global_batch_size(16, strategy) == 16


def test_tf_config_with_a_cluster_selects_multi_worker(monkeypatch):
    cluster = {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert distribution._cluster_in_tf_config()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}}))
    assert not distribution._cluster_in_tf_config()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribution._cluster_in_tf_config()


def test_transform_derived_params_fill_in_unless_the_user_set_them():
    loss = resolve_loss(None, "ClassWeightedCrossentropy", class_weights=[1.0, 2.0, 3.0])
    assert isinstance(loss, losses.ClassWeightedCrossentropy)
    assert loss.get_config()["class_weights"] == [1.0, 2.0, 3.0]
    user = {"name": "class_weighted_ce", "params": {"class_weights": [1.0, 1.0, 1.0]}}
    assert resolve_loss(user, "x", class_weights=[9.0, 9.0, 9.0]).get_config()["class_weights"] == [
        1.0,
        1.0,
        1.0,
    ]
    # A loss that takes no class weights ignores them.
    assert isinstance(resolve_loss("bpmll", "x", class_weights=[1.0]), losses.BPMLLLoss)
    with pytest.raises(ValueError, match="Valid names"):
        resolve_loss("nope", "x")
