"""`make sweep`: one Optuna study per approach, the baselines beside them, one table.

    python -m src.sweep search.n_trials=12 search.workers=2

The coordinator (this process) checks everything, creates the studies and their parent
MLflow runs, trains the baselines, then keeps `search.workers` worker processes going that
share the studies (src.tuning.supervisor, src.tuning.worker) and shows their progress.
Running the same command again resumes the same studies up to `search.n_trials` finished
trials each, once src.tuning.resume has checked that each is resumed as it was grown.
"""

import json
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig

from src.config import CONF_DIR, UserError, arch_options, validate
from src.data.model_inputs import prepare
from src import run_tags, services
from src.redact import redact
from src.tuning import approaches, resume, studies, supervisor
from src.tuning.space import approach_space, check_space, parse_space

log = logging.getLogger(__name__)


def check_sweep(cfg: DictConfig, overrides: list[str]) -> None:
    """Everything that can reject a sweep, before any study or run exists."""
    validate(cfg)
    search = cfg.search
    known = arch_options()
    if not search.archs:
        raise UserError(f"search.archs is empty: name at least one of {', '.join(known)}")
    for arch in [*search.archs, *search.baselines]:
        if arch not in known:
            raise UserError(f"search.archs/baselines: unknown arch '{arch}'; available: {', '.join(known)}")
    twice = sorted({arch for arch in search.archs if list(search.archs).count(arch) > 1})
    if twice:
        raise UserError(f"search.archs names {', '.join(twice)} more than once; each arch is one study")
    if any(o.lstrip("+~").split("=", 1)[0].split(".")[0] == "arch" for o in overrides):  # arch, arch.<key>
        raise UserError("a sweep trains every arch in search.archs: choose them with "
                        "search.archs=[...] instead of arch=...; widths come from search.space")
    check_space(search.space, cfg)
    studies.build_sampler(search)
    studies.check_sampler_packages(search.sampler)  # Optuna imports them only mid-sweep
    studies.build_pruner(search)
    services.check_tracking(cfg.tracking.uri)
    services.check_storage(search.storage, cfg.tracking.uri)
    check_journal(Path(search.journal))


def check_journal(path: Path) -> None:
    """The journal file (the studies, or with database storage the set-up lock beside it):
    a file in a folder that can be made."""
    if path.is_dir():
        raise UserError(f"search.journal: {path} is a folder; name the journal file, e.g. {path}/journal.log")
    services.check_folder(path.parent, "search.journal")


def check_fits_data(overrides: list[str], archs: list[str], data) -> None:
    """What each arch's own settings and the data can tell, before any study or run exists:
    a seasonal naive's period fits the window, a statistical baseline's season the training
    rows. Composed only for the archs whose YAML has a period or a season (a compose is
    0.1 s); the sweep's own config holds one arch only, so validate did not see theirs."""
    from hydra import compose
    from omegaconf import OmegaConf

    from src.models import statistical
    from src.overrides import merge_overrides

    for arch in archs:
        if {"season_length", "period"} & set(OmegaConf.load(CONF_DIR / "arch" / f"{arch}.yaml")):
            arch_cfg = compose("config", overrides=merge_overrides(overrides, [f"arch={arch}"]))
            validate(arch_cfg)
            statistical.check_fits(arch_cfg.arch, data.val.starts[0])


def plan_approaches(cfg: DictConfig, overrides: list[str], data) -> tuple[dict[approaches.Approach, DictConfig], dict]:
    """The (arch, stacking) studies to run with their composed configs, and {label: twin
    label} for those that would build the same network as one that runs."""
    from hydra import compose

    from src.overrides import merge_overrides

    every = approaches.every(cfg.search)
    composed = {a: compose("config", overrides=merge_overrides(overrides, a.overrides)) for a in every}
    shape = {"input_steps": data.input_steps, "horizon": data.horizon, "n_series": data.n_series}
    planned, same = approaches.plan(every, lambda a: composed[a].arch, shape)
    say_unequal_spaces({a.label: list(approach_space(composed[a])) for a in planned},
                       offered=list(parse_space(cfg.search.space)))
    return {a: composed[a] for a in planned}, same


def say_unequal_spaces(searched: dict[str, list[str]], offered: list[str]) -> None:
    """Architecture is the compared factor, so every study should search as many nuisance
    parameters; where one searches fewer (no arch.units for depth/units/taper, not trained by
    gradient for train.*, or fewer of its own in arch.space), say so: its budget buys less
    tuning. One that searches nothing of search.space's `offered` runs the same fit each trial."""
    most = max(searched.values(), key=len, default=[])
    for label, names in searched.items():
        if offered and not names:
            log.warning("%s searches nothing: none of search.space's parameters (%s) applies to it, so "
                        "its trials are all the same fit; list it in search.baselines to fit it once",
                        label, ", ".join(offered))
        elif len(names) < len(most):
            others = ", ".join(n for n in most if n not in names)
            log.warning("%s searches fewer parameters than the others (%d, not %d: %s do not apply to it); "
                        "its budget buys less tuning", label, len(names), len(most), others)


def open_studies(cfg: DictConfig, storage, experiment_id: str, fingerprint: str,
                 planned: dict[approaches.Approach, DictConfig], same: dict[str, str]) -> dict:
    """Create or resume each study with its parent MLflow run; refuse a study that was
    grown on other data or other settings, or whose runs and trials are not both here."""
    import mlflow
    import optuna
    from mlflow.tracking import MlflowClient

    from src.tracking import flatten

    client = MlflowClient()
    opened = {}
    with studies.SetupLock(cfg.search).held():
        existing = set(optuna.get_all_study_names(storage))
        for approach in planned:
            resume.check_same_store(cfg, client, experiment_id, storage, approach.label, existing)
        resume.check_joins_its_sweep(cfg, storage, existing, fingerprint)
        for approach in planned:
            arch = approach.label
            wanted = {**resume.settings(cfg), "data.stacking": approach.stacking}
            twins = sorted(label for label, twin in same.items() if twin == arch)
            study = studies.open_study(cfg.search, storage, arch)
            attrs = study.user_attrs
            if "settings" in attrs:
                resume.check_same_settings(study.study_name, json.loads(attrs["settings"]), wanted, cfg.search)
                resume.check_same_data(study.study_name, attrs.get("split_fingerprint"), fingerprint, cfg.search)
            else:
                study.set_user_attr("settings", json.dumps(wanted))
                study.set_user_attr("split_fingerprint", fingerprint)
            run_id = attrs.get("mlflow_parent_run_id")
            if run_id is None or not resume.run_exists(client, run_id, experiment_id):
                run = client.create_run(experiment_id, run_name=study.study_name, tags={
                    run_tags.ROLE: run_tags.STUDY_RUN, run_tags.SWEEP: cfg.search.name,
                    run_tags.STUDY: study.study_name, run_tags.ARCH: approach.arch,
                    run_tags.STACKING: approach.stacking, run_tags.APPROACH: arch,
                    **resume.search_classes(cfg.search),
                    run_tags.STORAGE: studies.describe_storage(cfg.search),
                    run_tags.SPLIT_FINGERPRINT: fingerprint, run_tags.SETTINGS_HASH: resume.settings_hash(wanted)})
                run_id = run.info.run_id
                # The study's own settings: its data.stacking, not the sweep's default
                params = {**flatten(cfg, only=("search",)), **wanted}
                client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in params.items()])
                study.set_user_attr("mlflow_parent_run_id", run_id)
            else:
                client.update_run(run_id, status="RUNNING")
                resume.note_changed_search(client, run_id, study.study_name, cfg.search)
            client.log_metric(run_id, "target_trials", cfg.search.n_trials)
            if twins:  # the report names them beside this approach
                client.set_tag(run_id, run_tags.SAME_NETWORK, ",".join(twins))
            for number in studies.fail_dead_trials(study, cfg.search):
                log.warning("%s: trial %d was left running by a worker that died; marked "
                            "failed, a retry is queued", arch, number)
            opened[arch] = (study, run_id)
    return opened


def run_baselines(cfg: DictConfig, overrides: list[str], experiment_id: str, fingerprint: str) -> dict:
    """Each baseline once per sweep settings: reused when a finished run already exists."""
    import mlflow
    from hydra import compose

    from src import interrupts, tracking
    from src.overrides import merge_overrides, reproduce_command

    runs = {}
    marker = resume.settings_hash(resume.settings(cfg))
    close_orphaned_baselines(cfg, experiment_id)
    for arch in cfg.search.baselines:
        found = mlflow.search_runs(
            experiment_ids=[experiment_id], output_format="list", max_results=1,
            filter_string=(run_tags.match(role=run_tags.BASELINE, arch=arch, sweep=cfg.search.name,
                                          settings_hash=marker, split_fingerprint=fingerprint)
                           + " and attributes.status = 'FINISHED'"))
        if found:
            runs[arch] = found[0]
            continue
        from src.keras_fit import StopOnInterrupt
        from src.one_run import fit_and_log  # TensorFlow, here only when a baseline trains

        base_cfg = compose("config", overrides=merge_overrides(overrides, [f"arch={arch}"]))
        base_cfg.train.verbose = 0
        command = reproduce_command(merge_overrides(overrides, [f"arch={arch}"]))
        tags = {run_tags.ROLE: run_tags.BASELINE, run_tags.SWEEP: cfg.search.name,
                run_tags.SETTINGS_HASH: marker, run_tags.REPRODUCE: command}
        # As in src.train: a Ctrl+C that a finalizer swallowed is still acted on
        with interrupts.noticed() as interrupt, \
                tracking.run(experiment_id, run_name=f"{cfg.search.name}-{arch}", tags=tags) as active:
            fit_and_log(base_cfg, prepare(base_cfg.data), callbacks=[StopOnInterrupt(interrupt)])
            interrupt.check()
        runs[arch] = mlflow.get_run(active.info.run_id)
        log.info("baseline %s: run %s", arch, active.info.run_id)
    return runs


def close_orphaned_baselines(cfg: DictConfig, experiment_id: str) -> None:
    """Baselines train under the setup lock, which the caller holds: a baseline run of
    this sweep still RUNNING belongs to a process that died (kill -9). End it FAILED."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    running = run_tags.match(role=run_tags.BASELINE, sweep=cfg.search.name) + " and attributes.status = 'RUNNING'"
    for run in client.search_runs([experiment_id], running):
        client.set_terminated(run.info.run_id, "FAILED")
        log.warning("baseline %s: run %s was left running by a process that died; marked FAILED",
                    run.data.tags.get(run_tags.ARCH), run.info.run_id)


class SweepFailed(RuntimeError):
    """The sweep ended without what it was asked for: a study with no finished trial, or
    one left short by a worker that died (rerun to finish it)."""


def close_failed_runs(study, client) -> None:
    """Child runs of trials that ended FAIL without closing their run (a killed worker)."""
    from mlflow.exceptions import MlflowException
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        run_id = trial.user_attrs.get("mlflow_run_id")
        if not run_id:
            continue
        try:
            run = client.get_run(run_id)
            if run.info.status == "RUNNING":
                client.set_tag(run_id, run_tags.TRIAL_STATE, "FAIL")
                client.set_terminated(run_id, "FAILED", end_time=last_logged(client, run))
        except MlflowException:
            continue


def last_logged(client, run) -> int:
    """When a dead worker's run last logged a metric (ms), else when it started: its end,
    not the time the sweep found it dead, which can be a rerun hours later (and was counted
    in the report's search seconds)."""
    times = [m.timestamp for key in run.data.metrics for m in client.get_metric_history(run.info.run_id, key)]
    return max(times, default=run.info.start_time)


def fail_study_runs(opened: dict) -> None:
    """End FAILED the study runs of a sweep that an error stopped (a baseline that cannot be
    fitted, say): they were left RUNNING. A rerun sets them running again."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    for _, run_id in opened.values():
        try:
            client.set_terminated(run_id, "FAILED")
        except MlflowException:
            return


def summarise(cfg: DictConfig, opened: dict, baselines: dict, interrupted: bool,
              same: dict[str, str]) -> list[dict]:
    from mlflow.tracking import MlflowClient

    from src.tuning import summary

    client = MlflowClient()
    rows = [summary.study_row(study, arch, client, cfg.search.n_trials) for arch, (study, _) in opened.items()]
    rows += [{"approach": label, "trials": f"= {twin}"} for label, twin in same.items()]  # one network
    rows += [summary.row_from_run(arch, run, "-") for arch, run in baselines.items()]
    table = summary.format_table(rows)
    lock = studies.SetupLock(cfg.search)
    for arch, (study, run_id) in opened.items():
        # Another coordinator of the same sweep (another machine) may be writing the same
        # parent run: two inserts of one new tag at once fail on an MLflow server.
        with lock.held():
            close_failed_runs(study, client)
            row = next(r for r in rows if r["approach"] == arch)
            summary.log_study_summary(study, row, run_id, table, client, cfg.search.n_trials,
                                      plots=cfg.search.plots)
            client.set_terminated(run_id, "KILLED" if interrupted else "FINISHED")
    return rows


def sweep(cfg: DictConfig, overrides: list[str]) -> list[dict]:
    """Run or resume the sweep and print its table; returns one row per approach and
    baseline. On Ctrl+C the runs are closed and KeyboardInterrupt propagates; SweepFailed
    after the table when a study has no finished trial or was left short."""
    import optuna

    check_sweep(cfg, overrides)
    studied = [arch for arch in cfg.search.baselines if arch in cfg.search.archs]
    if studied:  # one row per approach: the report merged a study and a baseline of one arch
        log.warning("%s: in search.archs, so studied and not also fitted as a baseline", ", ".join(studied))
        cfg.search.baselines = [arch for arch in cfg.search.baselines if arch not in studied]
    data = prepare(cfg.data)
    supervisor.start_worker_server()
    check_fits_data(overrides, [*cfg.search.archs, *cfg.search.baselines], data)  # beside its imports
    resume.check_stores_before_opening(cfg)
    services.check_artifact_root(cfg.tracking)  # after every check: it creates the folder
    from src import tracking
    from src.tuning.summary import format_table

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        experiment_id = tracking.use_experiment(cfg.tracking)  # creates the store once, here
        storage = studies.open_storage(cfg.search)
        planned, same = plan_approaches(cfg, overrides, data)
        for label, twin in same.items():
            log.warning("%s builds the same network as %s on this data: trained once, as %s",
                        label, twin, twin)
        opened = open_studies(cfg, storage, experiment_id, data.fingerprint, planned, same)
        baselines, failed_workers = {}, []
        try:
            # Under the set-up lock: sweeps started together on several machines train
            # each baseline once, and the others reuse its run.
            with studies.SetupLock(cfg.search).held():
                baselines = run_baselines(cfg, overrides, experiment_id, data.fingerprint)
            failed_workers = supervisor.run_workers(cfg, overrides, opened, planned)
        except KeyboardInterrupt:
            summarise(cfg, opened, baselines, interrupted=True, same=same)
            raise
        except Exception as err:
            if not services.is_unavailable(err):  # a store gone: writing to it would wait on retries
                fail_study_runs(opened)
            raise
        rows = summarise(cfg, opened, baselines, interrupted=False, same=same)
    except Exception as err:
        if services.is_unavailable(err) and not isinstance(err, services.ServiceUnavailable):
            raise services.ServiceUnavailable(
                f"{services.describe_unavailable(err)}; once it is back, run the same "
                f"command again to resume") from None
        raise
    print(format_table(rows), flush=True)
    print(compare_hint(overrides), flush=True)
    check_outcome(cfg.search, opened, failed_workers)
    return rows


def compare_hint(overrides: list[str]) -> str:
    """The sweep's table shows one seed of the selected trial; the report's mean over fresh
    seeds can name another winner. Say so, and how to get it for this very sweep."""
    import shlex

    kept = [o for o in overrides if o.split("=", 1)[0] not in ("search.workers", "search.threads_per_worker")]
    command = "make compare" if not kept else redact(" ".join(["python -m src.compare", *map(shlex.quote, kept)]))
    return (f"Test errors above: the selected trial, one seed. For the mean over fresh seeds that "
            f"ranks the approaches, run: {command}")


def check_outcome(search: DictConfig, opened: dict, failed_workers: list[str]) -> None:
    """SweepFailed when a study has no finished trial, or when a worker died and left a
    study short of its target; a worker that died after its trial was retried is only said."""

    def finished(study) -> int:
        return studies.count(study, studies.FINISHED_STATES)

    short = [study.study_name for study, _ in opened.values()
             if finished(study) < search.n_trials and studies.own_failures(study) < search.max_failures]
    if failed_workers and short:
        raise SweepFailed(f"{', '.join(failed_workers)} stopped early and {', '.join(short)} "
                          f"did not reach {search.n_trials} trials; run the same command again "
                          f"to finish them")
    empty = [study.study_name for study, _ in opened.values() if finished(study) == 0]
    if empty:
        # A trial can fail before its run exists (its sampled values refused): its line
        # above says why, where the runs cannot.
        raise SweepFailed(f"no finished trial in {', '.join(empty)}: every trial failed; each "
                          f"trial's line above and its FAILED run in mlflow ui (make ui) say why")
    stopped = [f"{study.study_name} ({finished(study)} of {search.n_trials})" for study, _ in opened.values()
               if 0 < finished(study) < search.n_trials and studies.own_failures(study) >= search.max_failures]
    if stopped:  # the table's trials column showed it, and nothing else did
        log.warning("%s: stopped short of the target after search.max_failures=%d failed trials; "
                    "the table counts only its finished ones, so its budget is smaller than the others'",
                    ", ".join(stopped), search.max_failures)
    if failed_workers:
        log.warning("%s died; its trial was marked failed and retried, and every study "
                    "reached its target", ", ".join(failed_workers))


def _main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    try:
        sweep(cfg, list(HydraConfig.get().overrides.task))
    except KeyboardInterrupt:
        print("interrupted: the running trials are marked failed; run the same command "
              "again to resume", file=sys.stderr)
        sys.exit(130)
    except SweepFailed as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    from src.cli import run_app

    run_app(_main, config_name="config")


if __name__ == "__main__":
    main()
