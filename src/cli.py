"""Shared entry point for the Hydra apps: user errors become one line and exit code 2."""

import argparse
import gc
import io
import re
import sys
import traceback
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, Callable

import hydra
from omegaconf import DictConfig

from src.config import CONF_DIR, UserError, register_configs
from src.redact import redact, redact_logging
from src.versions import describe

EXIT_USER_ERROR = 2


def fail(message: str) -> None:
    print(f"error: {redact(message)}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def check_group_choices(args: list[str], conf_dir: Path = CONF_DIR) -> None:
    """`arch=foo` with no conf/arch/foo.yaml: one line listing the options, before Hydra
    answers with its config search path."""
    for arg in args:
        if arg.startswith(("-", "+", "~")) or "=" not in arg:
            continue
        group, value = arg.split("=", 1)
        folder = conf_dir / group
        if "." in group or not folder.is_dir() or "," in value:
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if value == "null":  # Hydra's answer is a traceback
            fail(f"{group} cannot be null; choose one of {', '.join(options)}")
        if value not in options:
            fail(f"unknown {group} '{value}'; available: {', '.join(options)}")


def check_unsupported(args: list[str]) -> None:
    """Hydra options this project cannot honour, refused before anything runs."""
    known, _ = _hydra_arguments().parse_known_args(args)
    if any((known.config_name, known.cn, known.config_dir, known.cd, known.config_path, known.cp)):
        # A sweep's studies and baselines compose the project's conf/ again: with another
        # config they ran on other data and settings than the ones checked.
        fail("--config-name, --config-dir and --config-path are not supported: put your "
             "options in conf/ (an option file conf/<group>/<name>.yaml, or an experiment file "
             "conf/experiment/<name>.yaml used as experiment=<name>) or give them as overrides")
    for override in known.overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key == "hydra.job.chdir" and value.lower() == "true":
            fail("hydra.job.chdir=true is not supported: the MLflow store, the Optuna journal "
                 "and data.path are relative to the folder the command runs in")
    if any(redact(o) != o for o in known.overrides):
        refuse_password_where_hydra_shows_it(known)


def _hydra_shows_config(known: argparse.Namespace) -> str | None:
    """The Hydra mode that logs or saves the config as given, if any: --multirun writes each
    job's overrides and config to multirun/.../multirun.yaml and logs them; hydra.verbose logs
    the composed config."""
    settings = {o.lstrip("+~").partition("=")[0]: o.partition("=")[2].lower() for o in known.overrides}
    if known.multirun or known.m or settings.get("hydra.mode") == "multirun":
        return "--multirun"
    if settings.get("hydra.verbose", "false") not in ("false", "[]", "null"):
        return "hydra.verbose"
    return None


def refuse_password_where_hydra_shows_it(known: argparse.Namespace) -> None:
    mode = _hydra_shows_config(known)
    if mode:
        what = "logs and saves the config" if mode == "--multirun" else "logs the config"
        fail(f"a password in a URL cannot be given with {mode}, which {what} as given: give it "
             f"through the environment (PGPASSFILE for PostgreSQL, MLFLOW_TRACKING_PASSWORD for "
             f"an MLflow server) or run without {mode}")


def _hydra_arguments() -> argparse.ArgumentParser:
    """The part of Hydra's command line that matters here: which arguments are overrides."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("overrides", nargs="*")
    for flag in ("--help", "-h", "--hydra-help", "--version", "--resolve", "--multirun", "-m",
                 "--run", "-r"):
        parser.add_argument(flag, action="store_true")
    for flag in ("--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name",
                 "-cn", "--config-dir", "-cd", "--experimental-rerun", "--shell-completion", "-sc"):
        parser.add_argument(flag)
    parser.add_argument("--info", "-i", nargs="?", const="all")
    return parser


_TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false"}


def describe_compose_error(err: BaseException) -> str:
    """Hydra's and OmegaConf's several-line messages as one line naming the key."""
    cause = err.__cause__ or err
    text = str(cause)
    key = re.search(r"full_key: (\S+)", text)
    first = text.splitlines()[0] if text else type(cause).__name__
    value = re.match(r"Value '(.*?)' (?:of type '\w+' )?could not be converted to (\w+)", first)
    if key and value:
        wanted = _TYPE_WORDS.get(value.group(2), value.group(2))
        return f"{key.group(1)}: expected {wanted}, got '{value.group(1)}'"
    if key and "is not a valid bool" in first:
        return f"{key.group(1)}: expected true or false, got {first.split(' is not')[0][6:]}"
    if key and "not in" in first:
        return f"{key.group(1)}: {_unknown_key(key.group(1))}"
    if key:
        return f"{key.group(1)}: {first}"
    return str(err).splitlines()[0] if str(err) else first


def _unknown_key(key: str) -> str:
    """What to say of a key no schema declares. A search space's entries are open: a field
    an entry leaves out (step, log, choices) or a new entry is added with Hydra's `+`."""
    from dataclasses import fields

    from src.config import ParamSpec

    space = re.fullmatch(r"((?:search|arch)\.space)\.(\w+)(?:\.(\w+))?", key)
    if space and space.group(3) in {f.name for f in fields(ParamSpec)}:
        return f"not set in this entry; add it with a leading +: +{key}=..."
    if space and space.group(3) is None:
        return (f"no such entry in {space.group(1)}; add one with a leading ++: "
                f"'++{key}={{type:float,low:...,high:...,key:...}}'")
    return f"unknown key (no schema declares it); `{running_command()} --cfg job` prints every key"


def running_command() -> str:
    """`python -m src.forecast`: how this process was started, for hints and --help."""
    main = sys.modules["__main__"]
    return f"python -m {main.__spec__.name}" if getattr(main, "__spec__", None) else sys.argv[0]


def precompose(config_name: str, args: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Compose the config once before Hydra does, so a wrong type, an unknown key or an
    unparsable override is one line and exit code 2 instead of Hydra's report."""
    known, _ = _hydra_arguments().parse_known_args(args)
    if known.help or known.h or known.hydra_help or known.version or known.shell_completion \
            or known.sc or known.info:
        return
    from omegaconf import OmegaConf

    shows = _hydra_shows_config(known)
    for overrides in job_overrides(known.overrides) if shows == "--multirun" else [known.overrides]:
        check_group_choices(overrides, conf_dir)
        cfg = compose_or_fail(config_name, overrides, conf_dir)
        resolved_or_fail(cfg)
        shown = OmegaConf.to_yaml(cfg, resolve=True) if shows else ""
        if redact(shown) != shown:  # from a preset or a default, not the command line
            refuse_password_where_hydra_shows_it(known)


def job_overrides(overrides: list[str]) -> list[list[str]]:
    """Each job's overrides in a --multirun (`a=1,2 b=x,y`: four jobs), as Hydra's basic
    sweeper expands them."""
    import itertools

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as err:
        fail(unparsable_message(overrides, err))
    choices = [[f"{o.get_key_element()}={value}" for value in o.sweep_string_iterator()]
               if o.is_sweep_override() else [o.input_line] for o in parsed]
    return [list(job) for job in itertools.product(*choices)]


def resolved_or_fail(cfg: DictConfig) -> None:
    """Every interpolation resolves (`${oc.env:NAME}` with NAME unset does not), or one line.
    A key still to be set (data.path with data=csv) is named as such first: resolving the
    keys that refer to it said 'data.source.path: MissingMandatoryValue ...'."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from src.config import check_missing_keys

    try:
        check_missing_keys(cfg)
    except UserError as err:
        fail(str(err))
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        fail(describe_compose_error(err))


def _hydra_prints_config(args: list[str]) -> bool:
    known, _ = _hydra_arguments().parse_known_args(args)
    return (known.cfg or known.c or known.info) is not None


def print_job_config(config_name: str, args: list[str], conf_dir: Path = CONF_DIR) -> bool:
    """`--cfg job` as Hydra prints it, with passwords hidden (Hydra prints them); False for
    the other `--cfg` choices, which Hydra answers."""
    from omegaconf import OmegaConf

    known, _ = _hydra_arguments().parse_known_args(args)
    if (known.cfg or known.c) != "job" or known.package or known.p:
        return False
    cfg = compose_or_fail(config_name, known.overrides, conf_dir)
    if known.resolve:
        resolved_or_fail(cfg)
    print(redact(OmegaConf.to_yaml(cfg, resolve=known.resolve)), end="")
    return True


def compose_or_fail(config_name: str, overrides: list[str], conf_dir: Path = CONF_DIR,
                    return_hydra_config: bool = False) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
            return compose(config_name, overrides=overrides, return_hydra_config=return_hydra_config)
    except OverrideParseException as err:
        fail(unparsable_message(overrides, err))
    except (HydraException, OmegaConfBaseException) as err:
        fail(describe_compose_error(err))


def print_help(config_name: str, args: list[str], conf_dir: Path = CONF_DIR) -> None:
    """`--help`: the config groups this command's config takes (src.forecast's takes only
    tracking; every group in conf/ was listed, and the others refused) and the config the
    overrides compose, as Hydra's help shows them, without Hydra's search through its own
    groups (a second of the 1.2 s its help took here). `--hydra-help` is still Hydra's."""
    from omegaconf import OmegaConf, open_dict

    known, _ = _hydra_arguments().parse_known_args(args)
    cfg = compose_or_fail(config_name, known.overrides, conf_dir, return_hydra_config=True)
    groups = sorted(group for group in cfg.hydra.runtime.choices if not group.startswith("hydra/"))
    with open_dict(cfg):
        del cfg["hydra"]
    if known.resolve:
        resolved_or_fail(cfg)
    command = running_command()
    intro = (sys.modules["__main__"].__doc__ or "").strip().split("\n\n")[0]
    print(f"{intro}\n\nUsage: {command} [group=option ...] [key=value ...]\n\n"
          f"== Configuration groups ==\nCompose your configuration from those groups (group=option)\n")
    for group in groups:
        print(f"{group}: {', '.join(sorted(p.stem for p in (conf_dir / group).glob('*.yaml')))}")
    print(f"\n== Config ==\nOverride anything in the config (foo.bar=value)\n\n"
          f"{redact(OmegaConf.to_yaml(cfg, resolve=known.resolve))}\n"
          f"Hydra's own flags: {command} --hydra-help")


def unparsable_message(overrides: list[str], err: Exception) -> str:
    """Which override Hydra cannot parse, and why; where it holds spaces or characters
    beyond ASCII (a column named `revenue €`), that such values go in quotes."""
    override = _unparsable(overrides)
    hint = ("; quote values holding spaces or such characters: \"data.columns=['revenue €',flat]\""
            if any(c.isspace() or not c.isascii() for c in override) else "")
    return f"cannot parse override '{override}': {str(err).splitlines()[0]}{hint}"


def _unparsable(overrides: list[str]) -> str:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_override(override)
        except HydraException:
            return override
    return " ".join(overrides)


def answer_before_hydra(config_name: str, args: list[str]) -> bool:
    """The command line checked, and `--help` or `--cfg job` answered (True), before Hydra
    sees it; a user error exits with one line."""
    check_unsupported(args)
    check_group_choices(args)
    if {"--help", "-h"} & set(args):
        print_help(config_name, args)
        return True
    if print_job_config(config_name, args):
        return True
    precompose(config_name, args)
    return False


def run_app(task: Callable[[DictConfig], Any], config_name: str) -> None:
    if "--version" in sys.argv[1:]:  # before Hydra, whose own --version names only itself
        print(describe())
        sys.exit(0)
    register_configs()
    if answer_before_hydra(config_name, sys.argv[1:]):
        sys.exit(0)

    failed_jobs = []

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name=config_name)
    def _main(cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        redact_logging()
        try:
            task(cfg)
        except UserError as err:
            if HydraConfig.get().mode != RunMode.MULTIRUN:
                fail(str(err))
            # One job of a --multirun: its line, then the next job, as Hydra goes on after a
            # failed job; the exit code says so at the end.
            print(f"error: {redact(str(err))}", file=sys.stderr)
            failed_jobs.append(HydraConfig.get().job.num)
        except KeyboardInterrupt:  # not a bug: one line instead of a traceback
            print("interrupted: a run in progress is marked KILLED; what finished is kept",
                  file=sys.stderr)
            sys.exit(130)
        except Exception:  # noqa: BLE001 - a bug or a service: the traceback, redacted
            # Instead of Hydra's report, which starts with the command-line overrides as
            # given, a database password included.
            print(redact(traceback.format_exc()), file=sys.stderr, end="")
            sys.exit(1)

    try:
        if _hydra_prints_config(sys.argv[1:]):
            # `--cfg hydra|all` and `--info`: Hydra's own answers, which show the overrides
            # and the config as given.
            with redirect_stdout(io.StringIO()) as shown:
                _main()
            print(redact(shown.getvalue()), end="")
        else:
            _main()
    finally:
        # Shutting the interpreter down garbage-collects every object TensorFlow, Keras and
        # MLflow created, which took a second here. Frozen objects are skipped; exit
        # handlers (MLflow's flush) and refcounted clean-up still run.
        gc.freeze()
    if failed_jobs:
        fail(f"{len(failed_jobs)} job(s) of the multirun failed (#{', #'.join(map(str, failed_jobs))}); "
             f"the others ran")
