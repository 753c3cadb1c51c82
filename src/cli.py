"""Shared entry point for the Hydra apps: user errors become one line and exit code 2."""

import sys
from pathlib import Path
from typing import Any, Callable

import hydra
from omegaconf import DictConfig

from src.config import UserError, register_configs
from src.versions import describe

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
EXIT_USER_ERROR = 2


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def check_group_choices(args: list[str], conf_dir: Path = CONF_DIR) -> None:
    """`arch=foo` with no conf/arch/foo.yaml: one line listing the options, before Hydra
    answers with its config search path."""
    for arg in args:
        if arg.startswith(("-", "+", "~")) or "=" not in arg:
            continue
        group, value = arg.split("=", 1)
        folder = conf_dir / group
        if "." in group or not folder.is_dir() or value == "null" or "," in value:
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if value not in options:
            fail(f"unknown {group} '{value}'; available: {', '.join(options)}")


def run_app(task: Callable[[DictConfig], Any], config_name: str) -> None:
    if "--version" in sys.argv[1:]:  # before Hydra, whose own --version names only itself
        print(describe())
        sys.exit(0)
    register_configs()
    check_group_choices(sys.argv[1:])

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name=config_name)
    def _main(cfg: DictConfig) -> None:
        try:
            task(cfg)
        except UserError as err:
            fail(str(err))

    _main()
