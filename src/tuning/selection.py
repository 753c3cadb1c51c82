"""What a study's result rests on, whether its trials are read from Optuna's storage or from
MLflow's runs: its first `n_trials` finished trials, and the complete one among them with the
lowest validation loss. Two workers can both start a study's last trial, so a study may hold
more finished trials than its target; counting the first `n_trials` keeps budgets equal."""

from dataclasses import dataclass

FINISHED = ("COMPLETE", "PRUNED")


@dataclass(frozen=True)
class Outcome:
    number: int           # the trial's number in its study
    state: str            # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    value: float | None   # its best validation loss
    run_id: str | None    # its MLflow run


def counted(outcomes: list[Outcome], n_trials: int) -> list[Outcome]:
    """The first `n_trials` finished trials, by number."""
    finished = sorted((o for o in outcomes if o.state in FINISHED), key=lambda o: o.number)
    return finished[:n_trials]


def selected(outcomes: list[Outcome], n_trials: int) -> Outcome | None:
    """The counted complete trial with the lowest value (the earlier one on a tie)."""
    complete = [o for o in counted(outcomes, n_trials) if o.state == "COMPLETE" and o.value is not None]
    return min(complete, key=lambda o: (o.value, o.number), default=None)


def counts(outcomes: list[Outcome], n_trials: int) -> dict[str, int]:
    """complete/pruned among the counted trials, every failed one, and the finished ones
    past the target (`extra`)."""
    kept = counted(outcomes, n_trials)
    finished = sum(o.state in FINISHED for o in outcomes)
    return {"complete": sum(o.state == "COMPLETE" for o in kept),
            "pruned": sum(o.state == "PRUNED" for o in kept),
            "fail": sum(o.state == "FAIL" for o in outcomes), "extra": finished - len(kept)}


def describe_counts(c: dict[str, int]) -> str:
    """`12/0/1`, and `(+1 not counted)` when the study passed its target."""
    extra = f" (+{c['extra']} not counted)" if c["extra"] else ""
    return f"{c['complete']}/{c['pruned']}/{c['fail']}{extra}"
