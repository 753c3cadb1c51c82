"""The MLflow tags this project writes, and searches runs by: what each means and which runs
carry it. Tags are strings; numbers a user sorts or plots are metrics or params instead.

Every run (src.one_run, src.tracking):
    arch, stacking, approach   what was trained; approach = arch, or arch-<stacking>
                               (src.tuning.approaches.label), the key of every table row
    kind                       keras | statistical
    scaling, split_fingerprint how the data was scaled; which windows it saw (equal for runs
                               that can be compared)
    deterministic              true when the seed cannot change the result
    model_uri                  its logged MLflow model, where it has one
    reproduce                  the `python -m src.train ...` command that re-runs it
    error                      why it failed (with error.txt), on a FAILED run
    versions.<package>         the versions it ran on

A sweep's runs also carry `role` and `sweep` (its search.name), and by role:
    study        study (the Optuna study's name), settings_hash, sampler, pruner (their class
                 names), storage (where the study is, no password), same_network (approaches
                 trained as this one); once trials finished: best.<param>, best_run_id and
                 best_reproduce (the selected trial's params, run and command)
    trial        study, trial_number, trial_state (RUNNING, COMPLETE, PRUNED, FAIL),
                 pruned_at_epoch
    baseline     settings_hash
    repeat       repeat_of (the run it repeats), seed, fold and folds (its fold, of how many),
                 test_rows (the test windows it was scored on)
    comparison   the report's run; its note is the verdict
"""

ROLE = "role"
SWEEP = "sweep"
STUDY = "study"
ARCH = "arch"
STACKING = "stacking"
APPROACH = "approach"
KIND = "kind"
SCALING = "scaling"
SPLIT_FINGERPRINT = "split_fingerprint"
DETERMINISTIC = "deterministic"
MODEL_URI = "model_uri"
REPRODUCE = "reproduce"
ERROR = "error"
SETTINGS_HASH = "settings_hash"
SAME_NETWORK = "same_network"
SAMPLER = "sampler"
PRUNER = "pruner"
STORAGE = "storage"
BEST_RUN_ID = "best_run_id"
BEST_REPRODUCE = "best_reproduce"
TRIAL_NUMBER = "trial_number"
TRIAL_STATE = "trial_state"
PRUNED_AT_EPOCH = "pruned_at_epoch"
REPEAT_OF = "repeat_of"
SEED = "seed"
FOLD = "fold"
FOLDS = "folds"
TEST_ROWS = "test_rows"
# Families of tags: best.<param> on a study run, versions.<package> on every run
BEST_PREFIX, VERSIONS_PREFIX = "best.", "versions."

# Values of ROLE
STUDY_RUN, TRIAL, BASELINE, REPEAT, COMPARISON = "study", "trial", "baseline", "repeat", "comparison"


def match(**tags: str) -> str:
    """An MLflow filter string for runs whose tags equal these values,
    e.g. match(role="trial", sweep="sweep") -> "tags.role = 'trial' and tags.sweep = 'sweep'"."""
    return " and ".join(f"tags.{key} = '{value}'" for key, value in tags.items())
