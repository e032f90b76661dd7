"""Notebook and command-line parameters: one spec per name, checked before any work starts.

Values arrive from papermill (``-p name value``), from ``replicate run --set name=value`` or from
a profile. They are parsed as literals (numbers, lists, None, True/False) or kept as strings;
nothing is ever ``eval``-ed. A notebook validates its parameters with one call in its first code
cell, :func:`from_notebook`, which also refuses names papermill injected that the notebook does
not declare (papermill itself only warns about them).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from IPython import get_ipython

from ..grid.plan import GRID_CHOICES, parse_grid
from ..io.errors import ParameterError
from ..io.facts import registry
from ..method.clustering import methods
from ..method.vae_config import RULES as VAE_RULES
from ..studies.readings import MATCHED, readings

__all__ = ["SPECS", "check", "parse_value", "declared_names", "check_injected", "from_notebook"]


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


def _grid(v: Any) -> bool:
    try:
        parse_grid(v)
    except ParameterError:
        return False
    return True


def _reading(v: Any) -> bool:
    return isinstance(v, str) and (v in ("", MATCHED) or v in [r["name"] for r in readings()])


#: The VAE's parameters a notebook declares (their rules are the VAE configuration's own).
VAE_PARAMETERS = ("epochs", "batch_size", "latent_dim", "learning_rate", "encoder_hidden", "decoder_hidden",
                  "activation", "reconstruction", "logvar_clamp", "grad_clipnorm", "adam_epsilon", "batch_norm",
                  "reconstruction_weight", "kl_warmup_epochs")

#: name -> (check, what is allowed)
SPECS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "dataset": (_dataset, "a registered dataset ({names}) or the path of an existing data file"),
    "profile": (lambda v: isinstance(v, str) and v != "", "a non-empty label such as 'quick'"),
    "label_key": (lambda v: v is None or (isinstance(v, str) and v != ""), "None or an .obs column name"),
    "output_dir": (lambda v: isinstance(v, str), "a folder path, or '' to write nothing"),
    "target_sum": (_optional_pos, "None (median total) or a number > 0"),
    "clip_zscore": (_optional_pos, "None (no clipping) or a number > 0"),
    "seeds": (_int_list(0), "a non-empty list of integers >= 0, e.g. [0, 1, 2]"),
    **{name: VAE_RULES[name] for name in VAE_PARAMETERS},
    "cluster_random_state": _int_ge(0),
    "variant_seeds": (_int_list(0), "a non-empty list of integers >= 0 (VAE seeds for the encoder variants)"),
    "encoder_variants": (lambda v: isinstance(v, (list, tuple)) and all(_int_list(1)(x) for x in v),
                         "a list of encoder layer lists, e.g. [[1024], [512, 128]]"),
    "sensitivity_seeds": (_int_list(0), "a non-empty list of integers >= 0"),
    "method": (lambda v: isinstance(v, str) and v in methods(), "one of {methods}"),
    "grid": (_grid, GRID_CHOICES),
    "n_jobs": (lambda v: isinstance(v, int) and not isinstance(v, bool) and (v == -1 or v >= 1),
               "-1 (all cores) or an integer >= 1"),
    "scheduler": (lambda v: isinstance(v, str), "a Dask scheduler address such as 'tcp://host:8786', or ''"),
    "cell_time_limit": (_optional_pos, "None (no limit) or a number of seconds > 0"),
    "samples": _int_ge(1),
    "compare_reading": (_reading, f"'' (none), '{MATCHED}' or a reading named in replicate/data/stability.toml"),
}


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
                allowed = allowed.replace("{methods}", ", ".join(methods()))
            raise ParameterError(
                f"parameter {name} = {value!r} is invalid: expected {allowed}. "
                f"Re-run with a valid value, e.g. papermill ... -p {name} <value>."
            )
    return dict(params)


#: The first line papermill writes into the cell it injects after the ``parameters`` cell.
INJECTED_MARKER = "# Parameters"


def declared_names(source: str) -> list[str]:
    """Names assigned at the top level of a parameters cell, in order."""
    names: list[str] = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def check_injected(declared: Sequence[str], injected: Sequence[str]) -> None:
    """Refuse an injected name the notebook does not declare, naming the closest declared one."""
    for name in injected:
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"parameter {name!r} was passed to this notebook (papermill -p), but the notebook does not "
                f"declare it.{hint} Its parameters are: {', '.join(declared)}."
            )


def _executed_cells() -> list[str]:
    shell = get_ipython()
    return [c for c in (shell.user_ns.get("In", []) if shell is not None else []) if c]


def from_notebook(namespace: Mapping[str, Any], cells: Sequence[str] | None = None) -> dict[str, Any]:
    """Validate a notebook's parameters (call it in the first code cell after the parameters cell).

    ``namespace`` is the notebook's ``globals()``. The declared parameters are the names the
    ``parameters`` cell assigns; papermill's injected cell (its first line is ``# Parameters``)
    may only set those. ``cells`` are the sources of the cells executed so far (default: the
    kernel's history ``In``). Returns ``{name: value}`` of the declared parameters, each checked
    by :data:`SPECS`; raises :class:`~replicate.errors.ParameterError` naming a misspelled or
    invalid one.
    """
    cells = list(_executed_cells() if cells is None else cells)
    injected_at = next((i for i, c in enumerate(cells) if c.lstrip().startswith(INJECTED_MARKER)), None)
    candidates = cells[:injected_at] if injected_at is not None else cells
    declared: list[str] = []
    for source in candidates:  # the parameters cell: the first executed cell made only of assignments
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        if tree.body and all(isinstance(n, (ast.Assign, ast.AnnAssign)) for n in tree.body):
            declared = declared_names(source)
            break
    if not declared:
        raise ParameterError("cannot find this notebook's parameters cell among the executed cells; run the "
                             "notebook from the top (Kernel > Restart & Run All).")
    if injected_at is not None:
        check_injected(declared, declared_names(cells[injected_at]))
    missing = [n for n in declared if n not in namespace]
    if missing:
        raise ParameterError(f"parameters {', '.join(missing)} are not defined; run the parameters cell first.")
    return check(**{n: namespace[n] for n in declared})
