"""Log a forecaster as the run's MLflow model (a LoggedModel: the run's "Models" column and
the experiment's Models tab), with a signature and an input example, and find it again."""

import logging
import re
import tempfile
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from src import run_tags
from src.serving.forecaster import Forecaster

MODEL_NAME = "model"  # when the forecaster names no approach
SRC = Path(__file__).resolve().parent.parent
MODEL_FILE = SRC / "serving" / "mlflow_model.py"
# What the model file imports, and nothing else of the project (no Hydra, no MLflow store).
SHIPPED = ["__init__.py", "quiet.py", "trim.py", "data/__init__.py", "data/scaling.py", "data/stacking.py",
           "models/__init__.py", "models/revin.py", "serving/__init__.py",
           "serving/forecaster.py"]
REQUIREMENTS = ["tensorflow", "keras", "numpy", "pandas", "mlflow"]
logging.getLogger("mlflow.pyfunc").setLevel(logging.WARNING)  # one INFO line per logged model


# The package the model's copy of those modules forms. Not `src`: a user's own package is
# often named so, and where one was imported first the model failed to load ("No module
# named 'src.serving'"); where this checkout's was, the model ran the checkout's code, not its own.
PACKAGE = "many2many_model"
_IMPORTS = re.compile(r"\b(from|import) src\b")


def _as_shipped(text: str) -> str:
    """A module's source with its imports of this project renamed to PACKAGE."""
    return _IMPORTS.sub(rf"\1 {PACKAGE}", text)


def _shipped_code(folder: Path) -> Path:
    """A copy of the modules the model needs, as the package PACKAGE."""
    package = folder / PACKAGE
    for name in SHIPPED:
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(_as_shipped((SRC / name).read_text()))
    return package


def _model_file(folder: Path) -> Path:
    """The model's code file, importing PACKAGE."""
    path = folder / MODEL_FILE.name
    path.write_text(_as_shipped(MODEL_FILE.read_text()))
    return path


def requirement_pins() -> list[str]:
    """REQUIREMENTS at the versions installed here, which trained the model."""
    return [f"{name}=={version(name)}" for name in REQUIREMENTS]


def signature(forecaster: Forecaster) -> ModelSignature:
    """In and out: one double column per series (what inferring it from a history and its
    forecast gives, without running the network for it)."""
    columns = Schema([ColSpec("double", name) for name in forecaster.series])
    return ModelSignature(inputs=columns, outputs=columns)


class _Pyfunc:
    """`mlflow.pyfunc` as the flavor of `Model.log`, which `mlflow.pyfunc.log_model` calls,
    except that the logged input example is not checked by loading the model just written
    and forecasting it again (0.3-0.8 s of every run and trial here; a failure would only
    be a warning). tests/test_serving.py forecasts with every logged model in a fresh
    process instead."""

    @staticmethod
    def save_model(path, mlflow_model, validate_serving_input=None, **kwargs):
        # Model.log passes on every argument, its own validate_serving_input included, which
        # pyfunc.save_model refuses.
        mlflow.pyfunc.save_model(path=path, mlflow_model=mlflow_model, **kwargs)


def log_forecaster(forecaster: Forecaster, example: pd.DataFrame) -> str:
    """Log into the active run; returns the model's URI (models:/<id>), also set as the
    run's `model_uri` tag. `example`: a history the model accepts (its input example)."""
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "forecaster"
        forecaster.save(saved)
        info = mlflow.models.Model.log(
            artifact_path=None,
            name=forecaster.approach or MODEL_NAME,  # the Models tab lists it by approach
            flavor=_Pyfunc,
            flavor_name="pyfunc.ModelFromCode",  # what mlflow.pyfunc.log_model records
            validate_serving_input=False,
            python_model=str(_model_file(Path(tmp))),
            artifacts={"forecaster": str(saved)},
            code_paths=[str(_shipped_code(Path(tmp) / "code"))],
            signature=signature(forecaster),
            input_example=example,
            pip_requirements=requirement_pins(),
        )
    uri = f"models:/{info.model_id}"
    mlflow.set_tag(run_tags.MODEL_URI, uri)
    return uri


def load_forecaster(model_uri: str, folder: Path) -> Forecaster:
    """The forecaster of a logged model (models:/..., runs:/...), read as data: its JSON and
    its .keras network (safe mode). The model's own code file is not run: what comes back
    from a store, which others may write, is never executed here."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(folder)))
    return Forecaster.load(local / "artifacts" / "forecaster")
