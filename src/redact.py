"""Passwords in URLs (`scheme://user:password@host`) never leave the process: every MLflow
param, tag, artifact text, log line and error message goes through `redact`."""

import logging
import re

# user:password@ right after a scheme. The password may hold '/' (generated passwords do)
# and '@': SQLAlchemy (Optuna's and MLflow's database URLs) ends it at the first '@', HTTP
# clients (urllib3, for a tracking server) at the last, so everything up to the last '@'
# before a space is hidden. One slash after the scheme too: a URL given where a file path is
# expected comes back from pathlib with its '//' made '/'.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*:/{1,2}[^\s/:@]*:)[^\s]*(?P<at>@)")
# A password given as a query parameter, which SQLAlchemy passes on to the driver.
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd)=)[^&\s]+")
HIDDEN = "***"


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    text = _URL_PASSWORD.sub(rf"\g<head>{HIDDEN}\g<at>", text)
    return _QUERY_PASSWORD.sub(rf"\g<head>{HIDDEN}", text)


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message, and the traceback it carries, redacted."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit: left for logging to report as it does
        return record
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


def redact_logging() -> None:
    """Redact every log record this process makes, whichever logger makes it and whichever
    handler prints it: MLflow's own logger prints through a handler of its own (a failed
    request's line held the tracking server's URL), which a filter on the root logger's
    handlers (Hydra's job logging) did not reach. Once per process; repeats change nothing."""
    make = logging.getLogRecordFactory()
    if getattr(make, "redacts", False):
        return

    def redacting(*args, **kwargs) -> logging.LogRecord:
        return _redacted(make(*args, **kwargs))

    redacting.redacts = True
    logging.setLogRecordFactory(redacting)
