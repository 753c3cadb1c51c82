"""src.quiet: TensorFlow's known start-up chatter is dropped from stderr, anything else kept."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from src import quiet

CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795788540.128432   17013 port.cc:153] oneDNN custom operations are on. You may see",
]
CUDA = "E0000 00:00:1795788548.189290   17013 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error"
REAL = "E0000 00:00:1795788548.189290   17013 some_kernel.cc:12] INVALID_ARGUMENT: a real error"


def test_known_lines_dropped_others_kept():
    text = "\n".join([*CHATTER, CUDA, REAL, "Traceback (most recent call last):", ""])
    without_gpu = quiet.drop_known(text, quiet.known_pattern(gpu=False))
    assert without_gpu.splitlines() == [REAL, "Traceback (most recent call last):"]
    assert CUDA in quiet.drop_known(text, quiet.known_pattern(gpu=True))  # with a GPU it is a fault


def test_filtered_stderr_catches_file_descriptor_writes():
    # What C++ writes goes to file descriptor 2 directly, past sys.stderr.
    code = ("import os\nfrom src import quiet\nwith quiet.filtered_stderr():\n"
            f"    os.write(2, {CHATTER[0]!r}.encode() + b'\\n')\n"
            f"    os.write(2, {REAL!r}.encode() + b'\\n')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and result.stderr == REAL + "\n"


@pytest.mark.slow  # a fresh process importing TensorFlow: 3 s
def test_importing_tensorflow_prints_no_chatter():
    result = subprocess.run([sys.executable, "-c", "import src, keras; keras.ops.ones(1)"], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    if not quiet.has_nvidia_gpu():
        assert result.stderr == ""
