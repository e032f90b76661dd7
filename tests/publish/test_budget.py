"""A rebuild's budget: a duration, each step's expected time, what fits."""

from __future__ import annotations

import pandas as pd
import pytest

from replicate.io.errors import ReplicateError
from replicate.publish import budget


def test_a_never_timed_step_is_budgeted_as_the_longest_timed_step_of_its_kind():
    times = pd.DataFrame({"step": ["page-01_data", "page-09", "paper-02_vae"], "seconds": [9.0, 30.0, 600.0]})
    assert budget.fits("page-02_vae", 60, False, times)  # pages take 30 s at most: it fits a minute
    assert not budget.fits("page-02_vae", 20, False, times)
    assert not budget.fits("paper-03_grid", 300, False, times) and budget.fits("paper-03_grid", 900, False, times)
    assert not budget.fits("why-new", 10_000, False, times) and budget.fits("why-new", 0, True, times)
    assert budget.need("page-02_vae", times) == "never timed, 0 min as the longest of its kind"
    assert budget.need("why-new", times) == "never timed"


def test_a_budget_is_a_duration():
    assert budget.parse_budget("90m") == 5400 and budget.parse_budget("1.5h") == 5400
    assert budget.parse_budget("600") == 600 and budget.parse_budget(None) is None
    with pytest.raises(ReplicateError, match="--budget 'soon' is not a duration"):
        budget.parse_budget("soon")
