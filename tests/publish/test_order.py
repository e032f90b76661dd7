"""The order of the study graph's steps: who reads whose outputs, what waits for what, the critical path."""

from __future__ import annotations

import pytest

from replicate.io.errors import ReplicateError
from replicate.publish import order


def test_the_critical_path_is_the_longest_chain_of_steps_that_read_each_others_outputs():
    stages = {
        "data": {"outs": [{"results/data.csv": {"cache": False}}]},
        "train": {"deps": ["results/data.csv"], "outs": ["results/run/vae"]},
        "grid": {"deps": ["results/run/vae/latents.npz"], "outs": [{"results/run/grid.csv": {"cache": False}}]},
        "page": {"deps": ["results/run"], "outs": ["results/page.ipynb"]},  # a folder holding the others' outputs
        "side": {"deps": ["results/data.csv"], "outs": ["results/side.csv"]},
        "alone": {"deps": ["replicate/x.py"], "outs": ["results/alone.csv"]},
    }
    assert order.after(stages) == {"data": set(), "train": {"data"}, "grid": {"train"}, "page": {"train", "grid"},
                                     "side": {"data"}, "alone": set()}
    seconds = {"data": 1, "train": 10, "grid": 5, "page": 2, "side": 30, "alone": 20}
    assert order.critical_path(stages, seconds) == (31.0, ["data", "side"])
    seconds["side"] = 3  # the lone step is now longer than any chain
    assert order.critical_path(stages, seconds) == (20.0, ["alone"])
    seconds["alone"] = 0  # a step never timed weighs nothing
    assert order.critical_path(stages, seconds) == (18.0, ["data", "train", "grid", "page"])
    stages["data"]["deps"] = ["results/page.ipynb"]
    with pytest.raises(ReplicateError, match="cycle"):
        order.critical_path(stages, seconds)


#: data -> train -> grid, and data -> side.
CHAIN = {
    "data": {"outs": ["data.csv"]},
    "train": {"deps": ["data.csv"], "outs": ["vae"]},
    "grid": {"deps": ["vae"], "outs": ["grid.csv"]},
    "side": {"deps": ["data.csv"], "outs": ["side.csv"]},
}


def test_a_step_waits_for_every_step_to_make_that_it_reads_directly_or_through_another():
    stages = CHAIN
    # `train` is current (not to make): `grid` still waits for `data`, through it
    assert order.waits(["data", "grid", "side"], stages) == {"data": set(), "grid": {"data"}, "side": {"data"}}
    assert order.waits(["grid", "side"], stages) == {"grid": set(), "side": set()}


def test_the_steps_downstream_of_those_to_make_read_their_outputs_directly_or_through_another():
    stages = {**CHAIN, "alone": {"deps": ["x.py"], "outs": ["alone.csv"]}}
    assert order.downstream(["train"], stages) == ["grid"]
    assert order.downstream(["data"], stages) == ["train", "grid", "side"]  # the graph's order
    assert order.downstream(["data", "grid"], stages) == ["train", "side"]  # not those already to make
    assert order.downstream(["alone"], stages) == []
