"""Rolling-origin folds (compare.folds): chronological, non-overlapping test blocks, the last
fold is the sweep's split, scalers see only their fold's training rows, too few rows is one
line, and the report's per-fold view."""

import numpy as np
import pandas as pd
import pytest

from conftest import make_cfg, write_csv
from src.report import backtest
from src.config import UserError, validate
from src.data.folds import fold_bounds, rows_needed
from src.data.model_inputs import prepare
from src.data.windows import split_bounds


def csv_cfg(path, *extra):
    return make_cfg("data=csv", f"data.path={path}", "data.input_steps=20", "data.horizon=5", *extra)


@pytest.mark.parametrize("n_rows, folds", [(300, 3), (1000, 4), (457, 2)])
def test_fold_blocks_are_chronological_adjacent_and_do_not_overlap(n_rows, folds):
    bounds = fold_bounds(n_rows, 0.15, 0.15, folds)
    for b in bounds:
        assert b["train"][0] == 0
        assert b["train"][1] == b["val"][0] and b["val"][1] == b["test"][0]  # train < val < test
        assert b["train"][1] > b["train"][0]
    tests = [b["test"] for b in bounds]
    for (_, stop), (start, _) in zip(tests, tests[1:]):
        assert stop == start  # next fold's test block starts where this one's ends
    assert tests[-1][1] == n_rows
    assert bounds[-1] == split_bounds(n_rows, 0.15, 0.15)


def test_windows_stay_inside_their_fold(tmp_path):
    path = write_csv(tmp_path / "a.csv", rows=300)
    folds = [prepare(csv_cfg(path).data, fold=k, folds=3) for k in range(3)]
    bounds = fold_bounds(300, 0.15, 0.15, 3)
    for data, b in zip(folds, bounds):
        for name in ("train", "val", "test"):
            split = getattr(data, name)
            start, stop = b[name]
            assert split.starts.min() == start and split.starts.max() + 25 == stop, name
    test_rows = [set(range(d.test.starts[0], d.test.starts[-1] + 25)) for d in folds]
    assert not (test_rows[0] & test_rows[1]) and not (test_rows[1] & test_rows[2])
    assert len({d.fingerprint for d in folds}) == 3  # every fold has its own fingerprint


def test_last_fold_is_the_sweeps_split(tmp_path):
    cfg = make_cfg("data.n_windows=200")
    today = prepare(cfg.data)
    for folds in (1, 2, 3):
        last = prepare(cfg.data, fold=folds - 1, folds=folds)
        assert last.fingerprint == today.fingerprint
        for name in ("train", "val", "test"):
            np.testing.assert_array_equal(getattr(last, name).X, getattr(today, name).X)
            np.testing.assert_array_equal(getattr(last, name).y, getattr(today, name).y)
        np.testing.assert_array_equal(last.scaler.std, today.scaler.std)


def test_a_folds_scaler_never_sees_rows_after_its_training_block(tmp_path):
    path = write_csv(tmp_path / "a.csv", rows=300)
    cfg = csv_cfg(path)
    before = [prepare(cfg.data, fold=k, folds=3) for k in range(3)]
    train_stop = fold_bounds(300, 0.15, 0.15, 3)[0]["train"][1]
    frame = pd.read_csv(path)
    frame.loc[train_stop:, ["load", "price", "temp"]] *= 1000  # poison every later row
    frame.to_csv(path, index=False)
    after = [prepare(cfg.data, fold=k, folds=3) for k in range(3)]
    np.testing.assert_array_equal(before[0].scaler.mean, after[0].scaler.mean)
    np.testing.assert_array_equal(before[0].scaler.std, after[0].scaler.std)
    train_rows = frame[["load", "price", "temp"]].to_numpy()[:train_stop]
    np.testing.assert_allclose(after[0].scaler.std, train_rows.std(axis=0))
    # The later folds train on poisoned rows, so the poison does reach a scaler that may see it.
    assert not np.allclose(before[2].scaler.std, after[2].scaler.std)


@pytest.mark.parametrize("folds", [2, 5])
def test_too_few_rows_for_the_folds_names_how_many_are_needed(tmp_path, folds):
    need = rows_needed(0.15, 0.15, folds, 25)
    first = fold_bounds(need, 0.15, 0.15, folds)[0]
    assert min(stop - start for start, stop in first.values()) >= 25
    prepare(csv_cfg(write_csv(tmp_path / "ok.csv", rows=need)).data, fold=0, folds=folds)
    short = write_csv(tmp_path / "short.csv", rows=need - 1)
    with pytest.raises(UserError, match=f"compare.folds={folds} needs at least {need} rows .*; the data has {need - 1}"):
        prepare(csv_cfg(short).data, fold=folds - 1, folds=folds)
    if folds == 5:  # here the first fold's training rows run out first: the split alone still fits
        assert fold_bounds(need - 1, 0.15, 0.15, folds)[0]["train"][1] < 25
        prepare(csv_cfg(short).data)


@pytest.mark.parametrize("override, message", [
    (["compare.folds=0"], "compare.folds must be a positive integer"),
    (["compare.folds=2", "compare.repeats=0"], "compare.folds=2 needs compare.repeats of 1 or more"),
    (["compare.folds=6"], "compare.folds=6 test blocks .* leave no training rows"),
])
def test_fold_settings_are_checked_before_anything_runs(override, message):
    with pytest.raises(UserError, match=message):
        validate(make_cfg(*override))
    validate(make_cfg("compare.folds=5"))  # 5 * 0.15 + 0.15 < 1


def _samples(by_fold: dict[int, list[float]], naive: dict[int, float]) -> list[dict]:
    return [{"fold": k, "test_mse": v, "naive_test_mse": naive[k]} for k, vs in by_fold.items() for v in vs]


def test_per_fold_ratios_wins_and_an_unstable_ranking_are_reported():
    naive = {0: 2.0, 1: 4.0}
    repeats = {"a": _samples({0: [1.0, 1.2], 1: [3.0, 3.4]}, naive),
               "b": _samples({0: [1.5, 1.5], 1: [2.0, 2.0]}, naive),
               "naive": _samples({0: [2.0], 1: [4.0]}, naive)}
    rows = [{"approach": arch, "test_mse_mean": float(np.mean([s["test_mse"] for s in samples]))}
            for arch, samples in repeats.items()]
    backtest.add_columns(rows, repeats, 2)
    by = {r["approach"]: r for r in rows}
    assert by["a"]["ratio_by_fold"] == "0.550 / 0.800"
    assert by["b"]["ratio_by_fold"] == "0.750 / 0.500"
    assert (by["a"]["folds_won"], by["b"]["folds_won"], by["naive"]["folds_won"]) == (1, 1, 0)
    assert by["naive"]["ratio_to_naive"] == pytest.approx(1.0)
    assert by["a"]["ratio_to_naive"] == pytest.approx(2.15 / 3.0)  # mean MSE / mean naive, same folds
    note = backtest.stability_note(repeats, 2)
    assert "not stable" in note and "fold 0: a < b < naive" in note and "fold 1: b < a < naive" in note
    steady = {"a": repeats["a"], "naive": repeats["naive"]}
    assert backtest.stability_note(steady, 2) == "The ranking is the same in each of the 2 folds: a < naive."


def test_the_report_says_which_earlier_folds_test_rows_the_sweep_saw():
    """Before, it said the earlier folds "test them on other periods", though with the default
    fractions fold K-2 tests exactly the validation rows each study selected its
    configuration on, and the folds before it rows the sweep trained on."""
    from src.compare import fold_lines

    cfg = make_cfg()
    data = [prepare(cfg.data, fold=k, folds=3) for k in range(3)]
    said = fold_lines(data, 3)
    assert data[1].test.starts[0] == data[2].val.starts[0]  # the same rows
    assert "fold 0's are rows it trained on; fold 1's are rows it selected on" in said
    assert "only the last fold is held out from every choice" in said
    assert "other periods" not in said
