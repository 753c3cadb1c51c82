"""`make ui`: print the address of the runs view before `mlflow ui` starts. The bare
address opens MLflow's GenAI overview; the runs live under the machine-learning view.

    python -m src.ui_link 5000 sqlite:///mlruns/mlflow.db
"""

import sys
from pathlib import Path

from omegaconf import OmegaConf

from src.services import sqlite_file

CONF = Path(__file__).resolve().parent.parent / "conf"


def runs_url(port: str, uri: str, experiment: str) -> str:
    base = f"http://127.0.0.1:{port}"
    store = sqlite_file(uri)
    if store is not None and not store.is_file():
        return f"{base} (no runs yet: make sweep first)"
    from mlflow.tracking import MlflowClient

    found = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
    if found is None:
        return f"{base} (no experiment '{experiment}' yet)"
    return f"{base}/#/experiments/{found.experiment_id}/runs?workflowType=machine_learning"


def main() -> None:
    port, uri = sys.argv[1], sys.argv[2]
    experiment = OmegaConf.load(CONF / "tracking" / "local.yaml").experiment
    print(f"Runs of experiment '{experiment}': {runs_url(port, uri, experiment)}", flush=True)


if __name__ == "__main__":
    main()
