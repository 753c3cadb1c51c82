"""Shared services a sweep can use (a database for Optuna, an MLflow tracking server), and
the local stores and folders the commands write to: checked before anything is created, and
the services told apart from trial errors when they go away."""

import os
from pathlib import Path

from src.config import UserError
from src.redact import redact

DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")
SQLITE_PREFIX = "sqlite:///"


class ServiceUnavailable(UserError):
    """The database or the tracking server cannot be reached."""


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    fatal = [line for line in lines if "FATAL" in line]  # PostgreSQL's reason, e.g. bad password
    return (fatal or lines or [type(err).__name__])[0]


def check_database(url: str, what: str) -> None:
    """Connect once; UserError naming `what`, where, and PostgreSQL's reason."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, connect_args=_connect_timeout(url))
    except ModuleNotFoundError as err:
        raise UserError(f"{what} {redact(url)} needs the driver '{err.name}': "
                        f"pip install -e '.[postgres]'") from None
    except sqlalchemy.exc.ArgumentError as err:
        raise UserError(f"{what}: not a database URL: {redact(url)} ({_first_line(err)})") from None
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise ServiceUnavailable(f"{what} at {redact(url)} is unreachable: {_first_line(err.orig or err)}") from None
    finally:
        engine.dispose()


def _connect_timeout(url: str) -> dict:
    return {"connect_timeout": 5} if url.startswith("postgresql") else {}


def sqlite_file(uri: str) -> Path | None:
    """The file of a `sqlite:///` URI, resolved; None for any other URI."""
    return Path(uri[len(SQLITE_PREFIX):]).expanduser().resolve() if uri.startswith(SQLITE_PREFIX) else None


def check_tracking(uri: str) -> None:
    """A store MLflow can open and write: a SQLite file in a writable folder, a reachable
    tracking server, or a reachable database. Creates nothing."""
    if uri.startswith(("http://", "https://")):
        import requests

        try:
            requests.get(f"{uri.rstrip('/')}/health", timeout=5).raise_for_status()
        except requests.RequestException as err:
            raise ServiceUnavailable(f"MLflow tracking server at {redact(uri)} is unreachable: "
                                     f"{redact(_first_line(err))}; start it (make services) or fix tracking.uri") from None
    elif uri.startswith(DATABASE_SCHEMES):
        check_database(uri, "MLflow tracking database")
    elif uri.startswith(SQLITE_PREFIX):
        _check_sqlite_path(sqlite_file(uri), uri)
    else:
        raise UserError(f"tracking.uri: cannot use '{redact(uri)}'; use sqlite:///path/to/mlflow.db, "
                        f"http(s)://host:port (an MLflow server) or a database URL (postgresql://...)")


def _check_sqlite_path(path: Path, uri: str) -> None:
    """The file, or the first folder on its way that exists, must be writable."""
    if path.is_dir():
        raise UserError(f"tracking.uri: {path} is a folder; name the database file, e.g. {uri.rstrip('/')}/mlflow.db")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise UserError(f"tracking.uri: cannot write the MLflow store {path}")
        _check_mlflow_tables(path)
        return
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"tracking.uri: cannot create the MLflow store {path}: "
                        f"{ancestor} is not a writable folder")


def check_artifact_root(tracking) -> None:
    """`tracking.artifact_root`, where a local store puts a new experiment's artifacts: a
    folder this process can write, created here if new. A tracking server chooses its own."""
    if tracking.uri.startswith(("http://", "https://")):
        return
    root = tracking.artifact_root
    if "://" in root:  # pathlib would make it a local folder named after the URL
        raise UserError(f"tracking.artifact_root: '{redact(root)}' is not a folder path; with a local "
                        f"store (tracking.uri={redact(tracking.uri)}) artifacts go to a local folder")
    path = Path(root).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)  # the experiments' folders go in it
    except OSError as err:
        raise UserError(f"tracking.artifact_root: cannot create {path}: {err.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"tracking.artifact_root: cannot write {path}")


def check_store_exists(uri: str, hint: str) -> None:
    """For commands that only read a store: a SQLite one must already be there (MLflow would
    create an empty one on first use), UserError ending with `hint` otherwise; a server or
    database must answer (ServiceUnavailable: MLflow's client retried, then gave a traceback)."""
    if not uri.startswith(SQLITE_PREFIX):
        check_tracking(uri)
        return
    path = sqlite_file(uri)
    if not path.is_file() or path.stat().st_size == 0:
        raise UserError(f"no MLflow store at {redact(uri)}: {hint}")
    _check_mlflow_tables(path)


# Tables every MLflow SQLite store has had (MLflow 1 to 3).
MLFLOW_TABLES = {"alembic_version", "experiments", "runs"}


def _check_mlflow_tables(path: Path) -> None:
    """An existing file is an SQLite database with MLflow's tables, or an empty one: MLflow
    adds its tables to any SQLite database it is pointed at, and fails on other files with a
    traceback. Opened with mode=rw, which never creates the file (and opens it read-only
    where it is write-protected); not mode=ro, which cannot roll back the journal a writer
    killed mid-transaction leaves (kill -9 of a sweep) and refused the store after one."""
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True)) as db:
            tables = {name for (name,) in db.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.DatabaseError as err:
        raise UserError(f"tracking.uri: {path} is not an MLflow store ({err}); name another file") from None
    if tables and not MLFLOW_TABLES <= tables:
        raise UserError(f"tracking.uri: {path} is an SQLite database without MLflow's tables, which "
                        f"MLflow would add to it; name another file")


def check_folder(path: Path, key: str) -> None:
    """UserError naming `key` unless `path` is a folder or one can be made there. Tried by
    making the missing folders and removing them again: nothing is left behind."""
    path = path.expanduser().resolve()
    try:
        exists = path.exists()
    except OSError as err:  # a name too long: a traceback before
        raise UserError(f"{key}: cannot use {str(path)[:80]}...: {err.strerror}") from None
    if exists:
        if not path.is_dir():
            raise UserError(f"{key}: {path} is a file, not a folder")
        return
    missing = [path, *(p for p in path.parents if not p.exists())]  # innermost first
    try:
        path.mkdir(parents=True)
    except OSError as err:
        raise UserError(f"{key}: cannot create the folder {path}: {err.strerror}") from None
    finally:
        for folder in missing:
            if folder.is_dir():
                folder.rmdir()


def check_storage(url: str | None, tracking_uri: str) -> None:
    """`search.storage`, where given: a reachable database other than the MLflow store."""
    if url is None:
        return
    if same_database(url, tracking_uri):  # Optuna's tables were written into MLflow's store
        raise UserError(f"search.storage names the MLflow store of tracking.uri ({redact(url)}): Optuna's "
                        f"tables and MLflow's would share one database and its alembic_version "
                        f"table; give the studies a database of their own")
    check_database(url, "Optuna storage")


def same_database(a: str, b: str) -> bool:
    """Whether two database URLs name one database: one SQLite file, or one host, port and
    database name (a port left out is not taken as the default)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        first, second = make_url(a), make_url(b)
    except ArgumentError:  # not a database URL (an MLflow server's)
        return False
    if first.get_backend_name() != second.get_backend_name():
        return False
    if first.get_backend_name() == "sqlite":
        return bool(first.database and second.database) and \
            Path(first.database).expanduser().resolve() == Path(second.database).expanduser().resolve()
    return (first.host, first.port, first.database) == (second.host, second.port, second.database)


def _causes(err: BaseException | None) -> list[BaseException]:
    """The error and those it was raised from or during, outermost first."""
    chain = []
    while err is not None and all(err is not seen for seen in chain):
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def is_unavailable(err: BaseException) -> bool:
    """Whether an error (or one it was raised from) says a service went away, as opposed
    to a trial's own failure."""
    import requests
    import sqlalchemy

    for cause in _causes(err):
        if isinstance(cause, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                              requests.ConnectionError, ServiceUnavailable)):
            return True
        text = str(cause)
        if "API request to" in text and ("Max retries exceeded" in text or "Connection" in text):
            return True  # how MLflow's client reports a server it cannot reach
    return False


def describe_unavailable(err: BaseException) -> str:
    import sqlalchemy

    chain = _causes(err)
    database = next((e for e in chain if isinstance(e, sqlalchemy.exc.SQLAlchemyError)), None)
    if database is not None:
        return redact(f"lost the database: {_first_line(getattr(database, 'orig', None) or database)}")
    return redact(f"lost the MLflow tracking server: {_first_line(chain[0])}")
