"""Notebook and command-line parameters: one spec per name, checked before any work starts.

Values arrive from papermill (``-p name value``), from ``replicate run --set name=value`` or from
a profile. They are parsed as literals (numbers, lists, None, True/False) or kept as strings;
nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._resources import registry
from .errors import ParameterError

__all__ = ["SPECS", "check", "parse_value"]


def _int_ge(lo: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo), f"an integer >= {lo}"


def _pos_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _optional_pos(v: Any) -> bool:
    return v is None or _pos_number(v)


def _int_list(min_value: int) -> Callable[[Any], bool]:
    return lambda v: (isinstance(v, (list, tuple)) and len(v) > 0
                      and all(isinstance(x, int) and not isinstance(x, bool) and x >= min_value for x in v))


def _dataset(v: Any) -> bool:
    return isinstance(v, str) and (v in registry() or Path(v).expanduser().exists())


ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid", "selu", "gelu", "softplus", "leaky_relu")

#: name -> (check, what is allowed)
SPECS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "dataset": (_dataset, "a registered dataset ({names}) or the path of an existing data file"),
    "profile": (lambda v: isinstance(v, str) and v != "", "a non-empty label such as 'quick'"),
    "label_key": (lambda v: v is None or (isinstance(v, str) and v != ""), "None or an .obs column name"),
    "output_dir": (lambda v: isinstance(v, str), "a folder path, or '' to write nothing"),
    "target_sum": (_optional_pos, "None (median total) or a number > 0"),
    "clip_zscore": (_optional_pos, "None (no clipping) or a number > 0"),
    "seeds": (_int_list(0), "a non-empty list of integers >= 0, e.g. [0, 1, 2]"),
    "epochs": _int_ge(1),
    "batch_size": _int_ge(1),
    "latent_dim": _int_ge(1),
    "learning_rate": (_pos_number, "a number > 0"),
    "encoder_hidden": (_int_list(1), "a non-empty list of layer sizes >= 1, e.g. [2048]"),
    "decoder_hidden": (_int_list(1), "a non-empty list of layer sizes >= 1, e.g. [128]"),
    "activation": (lambda v: v in ACTIVATIONS, "one of " + ", ".join(ACTIVATIONS)),
    "reconstruction": (lambda v: v in ("sum", "mean"), "'sum' (eq. 4) or 'mean' (Keras mse)"),
    "logvar_clamp": (_optional_pos, "None (no clamp) or a number > 0"),
    "grad_clipnorm": (_optional_pos, "None (no gradient clipping) or a number > 0"),
    "adam_epsilon": (_pos_number, "a number > 0 (Keras' default 1e-07)"),
    "batch_norm": (lambda v: isinstance(v, bool), "True or False"),
    "cluster_random_state": _int_ge(0),
    "variant_seeds": (_int_list(0), "a non-empty list of integers >= 0 (VAE seeds for the encoder variants)"),
    "encoder_variants": (lambda v: isinstance(v, (list, tuple)) and all(_int_list(1)(x) for x in v),
                         "a list of encoder layer lists, e.g. [[1024], [512, 128]]"),
    "sensitivity_seeds": (_int_list(0), "a non-empty list of integers >= 0"),
    "method": (lambda v: isinstance(v, str) and v in _methods(), "one of {methods}"),
    "grid": (lambda v: v in ("full", "paper") or (isinstance(v, int) and not isinstance(v, bool) and v >= 1),
             "'full', 'paper' (the paper's setting only) or an integer n >= 1 (every n-th setting)"),
    "n_jobs": (lambda v: isinstance(v, int) and not isinstance(v, bool) and (v == -1 or v >= 1),
               "-1 (all cores) or an integer >= 1"),
    "scheduler": (lambda v: isinstance(v, str), "a Dask scheduler address such as 'tcp://host:8786', or ''"),
}


def _methods() -> list[str]:
    from .clustering import methods

    return methods()


def parse_value(text: str) -> Any:
    """A command-line value as a Python literal (``3``, ``[0, 1]``, ``None``) or else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def check(**params: Any) -> dict[str, Any]:
    """Validate parameters by name; return them unchanged, or raise naming the bad one.

    Integers given where a float is expected (``-p learning_rate 1``) are accepted.
    """
    for name, value in params.items():
        if name not in SPECS:
            raise ParameterError(f"unknown parameter {name!r}; known parameters: {', '.join(sorted(SPECS))}.")
        ok, allowed = SPECS[name]
        if not ok(value):
            allowed = allowed.replace("{names}", ", ".join(registry()))
            if "{methods}" in allowed:
                allowed = allowed.replace("{methods}", ", ".join(_methods()))
            raise ParameterError(
                f"parameter {name} = {value!r} is invalid: expected {allowed}. "
                f"Re-run with a valid value, e.g. papermill ... -p {name} <value>."
            )
    return dict(params)
