"""`make bench` end to end with tiny settings: every part runs and the report holds each
table. The figures themselves are the README's, from a full-size run; no timing is asserted."""

import json

import pytest

from hydra import initialize_config_dir

from conftest import CONF_DIR, ROOT, TINY, make_cfg, run_cli
from src.bench import check_approaches
from src.bench_process import first_epoch
from src.config import UserError

# One trial per sweep where a part allows it (memory compares trial 2 with the last): each
# sweep's set-up, not its trials, is most of its time at this size.
TINY_BENCH = ["bench.approaches=[reshape_head]", "bench.repeats=1", "bench.epochs=2", "bench.ablation_epochs=2", "bench.sweep_windows=200",
              "bench.throughput_trials=1", "bench.throughput_epochs=1", "bench.pruning_trials=1",
              "bench.pruning_epochs=2", "bench.memory_trials=2", "bench.baseline=null",
              "bench.default_sweep=false",
              # The last override holds a password, which the report and bench.json printed as given.
              "bench.overrides=['train.jit_compile=false','train.steps_per_execution=1','search.plots=false',"
              "'compare.report_dir=reports/http://a:S3cretPW@x']"]


@pytest.mark.slow
def test_bench_runs_every_part_and_reports_each(tmp_path):
    result = run_cli("src.bench", *TINY_BENCH, f"bench.out_dir={tmp_path}/bench", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (tmp_path / "bench" / "bench.md").read_text()
    results = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert {"machine", "process", "training", "throughput", "pruning", "memory"} <= set(results)
    assert [row["approach"] for row in results["training"]] == ["reshape_head"]
    assert [row["workers"] for row in results["throughput"]] == [1, 2]
    assert results["memory"]["trials"] == 2
    for heading in ("**1. Tracking overhead**", "**2. Training speed**", "**3. Sweep throughput**",
                    "**4. Pruning**", "**5. Memory**"):
        assert heading in table
    assert ("Every run of this project with train.jit_compile=false, train.steps_per_execution=1, "
            "search.plots=false, compare.report_dir=reports/http://a:***@x.") in table
    assert table.strip() in result.stdout
    assert "S3cretPW" not in result.stdout + result.stderr + json.dumps(results)


@pytest.mark.parametrize("approaches, message", [
    ([], "needs at least one approach"),
    (["transformer"], "unknown arch 'transformer'"),
    (["ets"], "ets has no recurrent layers"),
])
def test_bench_approaches_are_checked_before_anything_runs(approaches, message):
    check_approaches(lambda overrides: make_cfg(*overrides), ["reshape_head", "seq2seq"])
    with pytest.raises(UserError, match=message):
        check_approaches(lambda overrides: make_cfg(*overrides), approaches)


@pytest.mark.parametrize("override, message", [
    ("bench.repeats=0", "bench.repeats must be a positive integer, got 0"),
    ("bench.memory_trials=1", "bench.memory_trials must be 2 or more, got 1"),
])
def test_bad_bench_settings_stop_it_before_anything_runs(tmp_path, monkeypatch, override, message):
    """Before, these ran the whole bench (35 minutes by default) and then failed on an
    empty median or a missing second trial."""
    import src.bench

    def measured(*args):
        raise AssertionError("the bench started measuring")

    monkeypatch.setattr(src.bench, "machine", measured)
    cfg = make_cfg(override, f"bench.out_dir={tmp_path}/bench")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None), \
            pytest.raises(UserError, match=message):
        src.bench.bench(cfg)
    assert not (tmp_path / "bench").exists()


@pytest.mark.slow
def test_the_first_epoch_probe_loads_what_src_train_loads(store):
    """Keras imported before the project would bring scikit-learn and pyplot with it (about
    a second), which `python -m src.train` leaves out (src.trim)."""
    seconds, modules = first_epoch(ROOT, [*TINY, *store, "tracking.log_model=false"])
    assert seconds > 0 and {"keras", "mlflow", "src.train"} <= modules
    assert not {"sklearn", "matplotlib.pyplot"} & modules
