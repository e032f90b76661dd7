import numpy as np
import pandas as pd
import pytest

from replicate.publish.compare import FLOAT32_RELATIVE, RELATIVE, compare, read_table


def _grid(values, seeds=(0, 1, 2)):
    return pd.DataFrame({"method": "kmeans", "embedding": [f"vae_seed={s}" for s in seeds], "parameters": "{}",
                         "CA": values, "seconds": np.arange(len(seeds)) + 0.5, "status": "ok"})


def _outcomes(rows, column="CA"):
    return rows.loc[rows["column"] == column, "outcome"].tolist()


def test_identical_tables_are_identical_number_for_number_and_timings_are_not_compared():
    t = _grid([0.70, 0.72, 0.74])
    rows = compare(t, t.assign(seconds=t["seconds"] * 9), same_family=True)
    assert set(rows["column"]) == {"CA", "status"}
    assert (rows["outcome"] == "identical").all() and len(rows) == 6


def test_on_one_cpu_family_any_difference_differs():
    committed = _grid([0.70, 0.72, 0.74])
    recomputed = _grid([0.70 + 1e-15], seeds=(0,))
    assert _outcomes(compare(recomputed, committed, same_family=True)) == ["differing"]


def test_across_families_untrained_numbers_get_the_relative_tolerance():
    committed = _grid([0.70, 0.72, 0.74])
    close = _grid([0.70 * (1 + RELATIVE / 2)], seeds=(0,))
    far = _grid([0.70 * (1 + 1e-6)], seeds=(0,))
    assert _outcomes(compare(close, committed, same_family=False)) == ["within tolerance"]
    assert _outcomes(compare(far, committed, same_family=False)) == ["differing"]


def test_across_families_a_silhouette_gets_the_float32_tolerance_and_no_more():
    committed = _grid([0.70, 0.72, 0.74]).assign(silhouette=[0.25, 0.26, 0.27])
    moved = lambda rel: _grid([0.70], seeds=(0,)).assign(silhouette=[0.25 * (1 + rel)])  # noqa: E731
    assert _outcomes(compare(moved(5e-7), committed, same_family=False), "silhouette") == ["within tolerance"]
    assert _outcomes(compare(moved(FLOAT32_RELATIVE * 10), committed, same_family=False), "silhouette") == ["differing"]
    assert _outcomes(compare(moved(5e-7), committed, same_family=True), "silhouette") == ["differing"]
    assert RELATIVE < 5e-7 < FLOAT32_RELATIVE  # the CA column keeps the tight rule


def test_across_families_a_trained_number_must_fall_in_the_seed_band():
    committed = _grid([0.70, 0.72, 0.74])  # range 0.70-0.74, s.d. 0.02: band 0.68-0.76
    trained = lambda t: pd.Series(True, index=t.index)  # noqa: E731
    inside = _grid([0.755], seeds=(0,))
    outside = _grid([0.80], seeds=(0,))
    assert _outcomes(compare(inside, committed, same_family=False, trained=trained)) == ["within tolerance"]
    assert _outcomes(compare(outside, committed, same_family=False, trained=trained)) == ["differing"]
    # the same number on one family is not excused by the band
    assert _outcomes(compare(inside, committed, same_family=True, trained=trained)) == ["differing"]


def test_a_row_the_committed_table_lacks_differs_and_a_missing_key_column_is_an_error():
    committed = _grid([0.70, 0.72], seeds=(0, 1))
    new = _grid([0.70], seeds=(5,))
    rows = compare(new, committed, same_family=False)
    assert _outcomes(rows) == ["differing"] and rows["committed"].iloc[0] == "(no such row)"
    with pytest.raises(ValueError, match="no column"):
        compare(new.assign(extra="x"), committed, same_family=True)


def test_floats_round_trip_exactly(tmp_path):
    x = 0.1 + 0.2  # 0.30000000000000004: the default C parser may read another neighbour
    values = [x, 1 / 3, 2 ** -1074, 1e300 / 7]
    pd.DataFrame({"seed": range(4), "CA": values}).to_csv(tmp_path / "t.csv", index=False)
    assert read_table(tmp_path / "t.csv")["CA"].tolist() == values


def test_an_integer_key_matches_the_same_key_read_as_float():
    # a committed column with a missing value is read as floats (300.0); the re-computed one as ints (300)
    committed = _grid([0.70, 0.72, 0.74]).assign(limit=[300.0, 300.0, np.nan])
    recomputed = _grid([0.70], seeds=(0,)).assign(limit=[300])
    assert _outcomes(compare(recomputed, committed, same_family=True)) == ["identical"]


def test_a_trained_number_a_rounding_away_is_within_tolerance_even_outside_a_one_seed_band():
    committed = _grid([0.2112990021705627], seeds=(1,))  # a committed row written with 16 digits
    recomputed = _grid([0.21129900217056274], seeds=(1,))
    trained = lambda t: pd.Series(True, index=t.index)  # noqa: E731
    assert _outcomes(compare(recomputed, committed, same_family=False, trained=trained)) == ["within tolerance"]


def test_an_ill_posed_fit_is_within_tolerance_whatever_its_numbers_if_its_status_is_the_same():
    message = "found 2 clusters where 8 were asked for; UserWarning: Graph is not fully connected, spectral..."
    committed = _grid([0.3038, 0.72, 0.74]).assign(status=["warning", "ok", "ok"], message=[message, "", ""])
    recomputed = committed.assign(CA=[0.3043, 0.73, 0.74])
    rows = compare(recomputed, committed, same_family=True)
    assert _outcomes(rows) == ["within tolerance", "differing", "identical"]  # only the ill-posed row is spared
    assert _outcomes(compare(recomputed.assign(status="ok"), committed, same_family=True), "status")[0] == "differing"
