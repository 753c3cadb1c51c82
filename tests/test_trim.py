"""src.trim: Keras's import leaves out scikit-learn and pyplot, which nothing here uses;
importing them afterwards still works."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

CHECK = """
import sys
import src
import tensorflow, keras
print(sorted(m for m in ("sklearn", "matplotlib.pyplot") if m in sys.modules))
import sklearn.base, matplotlib.pyplot
print(sklearn.base.BaseEstimator.__module__, matplotlib.pyplot.__name__)
"""


@pytest.mark.slow  # a fresh process importing Keras and then scikit-learn: 4 s
def test_keras_imports_without_sklearn_and_pyplot_which_still_import_later():
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "sklearn.base matplotlib.pyplot"]
