"""The MLflow model every run logs, as code (MLflow's "models from code"): this file, the
few modules it imports (shipped with the model) and two artifacts, `forecaster.json` and
`network.keras`, are the whole model. Nothing is pickled, so loading it runs no code from
the store beyond this file.

Input: a table with the run's series as columns (matched by name) and at least
`input_steps` rows, oldest first. Output: the next `horizon` rows, same columns, in
original units. One history per call; `python -m src.forecast forecast.windows=all`
scores every window of a file.
"""

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import set_model


class ForecasterModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from src.serving.forecaster import Forecaster

        self.forecaster = Forecaster.load(Path(context.artifacts["forecaster"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        # A DataFrame hint: MLflow infers no schema from it (the logged signature does it).
        from src.serving.forecaster import ForecastInputError

        try:
            return self.forecaster.forecast_frame(model_input)
        except ForecastInputError as err:  # a 400 with this message from `mlflow models serve`
            raise MlflowException.invalid_parameter_value(str(err)) from None


set_model(ForecasterModel())
