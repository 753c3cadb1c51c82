"""The comparison's winner in the MLflow Model Registry: a version of the registered model
`<experiment>-<sweep>` with the alias `champion`, tagged with its row of the report."""

import logging
import math

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from src.report.verdict import within_one_std
from src.run_tags import MODEL_URI

CHAMPION = "champion"
log = logging.getLogger(__name__)


def registered_name(experiment: str, sweep: str) -> str:
    return f"{experiment}-{sweep}"


def check_name(name: str) -> None:
    """UserError where MLflow would refuse `name` for a registered model (at the end of a
    comparison, after its repeats have trained)."""
    from src.config import UserError

    if "/" in name or ":" in name:
        raise UserError(f"the champion's registered model would be '{name}', and a registered "
                        f"model's name cannot hold '/' or ':': rename tracking.experiment, or set "
                        f"compare.register=false")


def champion_uri(experiment: str, sweep: str) -> str:
    return f"models:/{registered_name(experiment, sweep)}@{CHAMPION}"


def winner(rows: list[dict]) -> dict | None:
    """The row with the lowest mean test MSE over its repeats (the report's leader)."""
    scored = [r for r in rows if isinstance(r.get("test_mse_mean"), float)
              and math.isfinite(r["test_mse_mean"]) and r.get("run_id")]
    return min(scored, key=lambda r: r["test_mse_mean"]) if scored else None


def register_champion(rows: list[dict], runs: dict, name: str, fingerprint: str) -> str:
    """Register the winner's model and point `champion` at it; a rerun with the same winner
    changes nothing. `runs`: approach -> its selected run (a row of mlflow.search_runs).
    Returns one line saying what happened."""
    import mlflow

    leader = winner(rows)
    if leader is None:
        return "no approach has a test MSE: nothing registered"
    # A statistical baseline is not a Keras network and logs no MLflow model.
    best = winner([r for r in rows if not r.get("statistical")])
    aside = "" if best is leader else (
        f" ({leader['approach']} has the lowest test MSE but is a statistical baseline, which "
        f"logs no MLflow model: the best other row is registered)")
    if best is None:
        return f"only statistical baselines: nothing registered{aside}"
    uri = runs[best["approach"]].get(f"tags.{MODEL_URI}")
    if not isinstance(uri, str):
        return (f"{best['approach']} has no MLflow model (tracking.log_model=false): "
                f"nothing registered")
    client = MlflowClient()
    current = _champion(client, name)
    # The report's notes are against its leader, which is not the registered row where a
    # statistical baseline leads.
    close = [r["approach"] for r in rows
             if r is not best and r.get("test_mse_mean") is not None and within_one_std(r, best)]
    tags = {"approach": best["approach"], "test_mse": best["test_mse_repeats"],
            "ratio_to_naive": f"{best['ratio_to_naive']:.4f}", "split_fingerprint": fingerprint,
            "reproduce": best.get("reproduce", ""), "run_id": best["run_id"], MODEL_URI: uri,
            "within_1_std": ", ".join(close) or "none"}
    if current is not None and current.tags.get(MODEL_URI) == uri:
        for key, value in tags.items():  # the same winner: its row from this report
            client.set_model_version_tag(name, current.version, key, value)
        return f"champion unchanged: {name} version {current.version} ({best['approach']}){aside}"
    version = mlflow.register_model(uri, name, tags=tags)
    client.set_registered_model_alias(name, CHAMPION, version.version)
    moved = f" (was version {current.version})" if current is not None else ""
    return (f"champion: {name} version {version.version}, {best['approach']}{moved}; "
            f"models:/{name}@{CHAMPION}{aside}")


def _champion(client: MlflowClient, name: str):
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:  # no such registered model, or no alias yet
        return None
