"""TensorFlow's known start-up chatter off stderr; anything else it writes still shows.

Loading TensorFlow and probing for CUDA print, from C++ and before any logging setting
applies, absl's "All log messages before absl::InitializeLog()" notice, oneDNN notes and,
on a machine without an NVIDIA GPU, CUDA's "failed call to cuInit" error (TF_CPP_MIN_LOG_LEVEL
hides none of them but that error, and =3 would hide real errors too). Those two steps run
with stderr captured at the file-descriptor level; afterwards every captured line that is
not one of the known ones is written back to stderr.
"""

import glob
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

ALWAYS = [
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"rebuild TensorFlow with the appropriate compiler flags",
]
# Chatter only where no NVIDIA GPU exists; with one, the same lines report a real fault.
WITHOUT_GPU = [
    r"Could not find cuda drivers on your machine, GPU will not be used",
    r"failed call to cuInit",
]


def has_nvidia_gpu() -> bool:
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def known_pattern(gpu: bool) -> re.Pattern:
    return re.compile("|".join(ALWAYS if gpu else ALWAYS + WITHOUT_GPU))


def drop_known(text: str, pattern: re.Pattern) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not pattern.search(line))


@contextmanager
def filtered_stderr() -> Iterator[None]:
    """Everything written to file descriptor 2 inside the block, C++ included, goes to a
    temporary file; on leaving, the lines that are not known chatter are written back."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = drop_known(capture.read().decode(errors="replace"), known_pattern(has_nvidia_gpu()))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _FilteredLoader(importlib.abc.Loader):
    """Runs the real loader of `tensorflow` inside filtered_stderr, then probes the devices
    there too where no GPU exists (CUDA is probed once per process, at its first operation,
    and forked processes inherit the answer)."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with filtered_stderr():
            self.loader.exec_module(module)
            if not has_nvidia_gpu():  # with a GPU, probing before a fork would break CUDA
                module.config.list_physical_devices()


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


def install() -> None:
    """Filter TensorFlow's start-up chatter when this process first imports it."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _TensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TensorFlowFinder())
