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


class RedactingFilter(logging.Filter):
    """Formats each record's message once and redacts it, for every handler it is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_logging() -> None:
    """Put the filter on every handler of the root logger (Hydra's job logging)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
