"""Pytest plugin: sweep every log record of the whole test session for tokens and patient identifiers.

Register it once in ``tests/conftest.py`` with ``pytest_plugins = ["tests.hardening.logsweep"]``.
Every ``LogRecord`` created during the session is kept (through the record factory, so records of
loggers that do not propagate count too); when the session ends they are searched for JWTs, bearer
credentials, the test suite's access-token prefix and the patient identifiers the tests use. A hit
fails the run and names the logger and the kind of secret, never the secret itself.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}")
BEARER = re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
ACCESS_TOKEN_PREFIX = "test-secret-token-"
# Module-level constants of test modules whose names say they hold identifiers or credentials.
_SENSITIVE_NAME = re.compile(r"(PATIENT_?ID|MRN|ACCESS_TOKEN|BEARER_TOKEN)S?$")
_registered: set[str] = set()


def sensitive(value: str) -> str:
    """Mark a value (a test patient id, a token) that must never appear in a log; returns it."""
    _registered.add(value)
    return value


@dataclass(frozen=True)
class Leak:
    logger: str
    kind: str
    test: str


@dataclass
class LogSweep:
    """Keeps the session's log records with the test that produced them."""

    records: list[tuple[str, logging.LogRecord]] = field(default_factory=list)
    current_test: str = "<collection>"

    def install(self) -> Callable[..., logging.LogRecord]:
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            self.records.append((self.current_test, record))
            return record

        logging.setLogRecordFactory(factory)
        return previous

    def leaks(self, secrets: Iterable[str]) -> list[Leak]:
        literal = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        found: list[Leak] = []
        for test, record in self.records:
            kind = secret_kind(record_text(record), literal)
            if kind:
                found.append(Leak(record.name, kind, test))
        return found


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could write: message, every extra field and the traceback."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a broken format string is not our concern here; keep the raw parts
        parts = [str(record.msg), repr(record.args)]
    parts += [repr(value) for key, value in vars(record).items() if key not in {"msg", "args"}]
    if record.exc_info and record.exc_info[1] is not None:
        parts += traceback.format_exception(record.exc_info[1])
    return "\n".join(parts)


def secret_kind(text: str, literals: Iterable[str] = ()) -> str | None:
    """The kind of secret ``text`` contains (jwt, bearer, access-token, identifier), or None."""
    if JWT.search(text):
        return "jwt"
    if BEARER.search(text):
        return "bearer"
    if ACCESS_TOKEN_PREFIX in text:
        return "access-token"
    if any(value in text for value in literals):
        return "identifier"
    return None


def harvested_secrets() -> set[str]:
    """Registered values plus string constants named like identifiers in loaded test modules."""
    values = set(_registered)
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "tests" or name.startswith("tests.")):
            continue
        for attr, value in vars(module).items():
            if isinstance(value, str) and _SENSITIVE_NAME.search(attr):
                values.add(value)
    return values


_SWEEP = LogSweep()
_SWEEP_KEY = pytest.StashKey[LogSweep]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SWEEP_KEY] = _SWEEP
    _SWEEP.install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    _SWEEP.current_test = item.nodeid
    try:
        return (yield)
    finally:
        _SWEEP.current_test = "<between tests>"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = _SWEEP.leaks(harvested_secrets())
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        f"log sweep: {leak.kind} in a record of {leak.logger!r} ({leak.test})" for leak in leaks
    ]
    if reporter is not None:
        reporter.section("secrets in logs", sep="=", red=True)
        for line in dict.fromkeys(lines):
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def current_sweep() -> LogSweep:
    """The session's sweep (for tests of the sweep itself)."""
    return _SWEEP
