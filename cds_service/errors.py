"""Domain exception tree; translated to HTTP in ``app.py`` only. Imports neither fastapi nor httpx.

CdsError
├── RequestRejected                  4xx answers about the caller's request
│   ├── HookRequestInvalid           400  malformed JSON or a missing/invalid field (names it)
│   │   └── HookNotServed            400  a hook this service id does not serve
│   ├── FeedbackInvalid              400
│   ├── UnknownService               404
│   ├── PayloadTooLarge              413
│   ├── UnsupportedMediaType         415
│   ├── BodyTimeout                  408  the body was not sent in time (a trickling client)
│   └── ClientDisconnected           the client went away mid-body (logged at info, not an error)
├── AuthenticationFailed             401  (bare body; reason only in the log)
│   └── KeyLookupFailed              no usable key for the token (unknown kid, JWKS unavailable...)
├── DataUnavailable                  412  required medication data could not be obtained
├── FhirError                        a FHIR server call failed (kept with its status and outcome)
│   ├── FhirTemporaryError           timeouts, 5xx, 429: may succeed later
│   └── FhirFatalError               4xx, bodies that are not FHIR JSON
│       ├── NotSupported             the server does not offer the resource type (404, not-supported)
│       └── NotFhirJson              JSON that is not the FHIR resource expected
├── StoreUnavailable                 503  the audit/feedback store cannot be written (nothing is acknowledged)
├── ConfigurationInvalid             a setting is wrong: the service refuses to start, naming it
├── RuleSetInvalid                   a knowledge-base file is invalid: the app refuses to start
└── InternalError                    500  an unexpected failure, logged where it happened
"""

from __future__ import annotations


class CdsError(Exception):
    """Base of every error the service raises on purpose."""


class RequestRejected(CdsError):
    """The caller's request cannot be served as sent."""

    status_code = 400
    issue_code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class HookRequestInvalid(RequestRejected):
    """Body is not JSON, or a required field is missing or invalid."""


class HookNotServed(HookRequestInvalid):
    """The hook in the body is not one this service id is registered for."""

    issue_code = "not-supported"


class FeedbackInvalid(RequestRejected):
    """A feedback body that breaks the spec's rules."""


class UnknownService(RequestRejected):
    status_code = 404
    issue_code = "not-found"


class PayloadTooLarge(RequestRejected):
    status_code = 413
    issue_code = "too-costly"


class UnsupportedMediaType(RequestRejected):
    status_code = 415
    issue_code = "not-supported"


class BodyTimeout(RequestRejected):
    status_code = 408
    issue_code = "timeout"


class ClientDisconnected(RequestRejected):
    """The client closed the connection before its body was read; nobody reads the answer."""

    issue_code = "incomplete"


class AuthenticationFailed(CdsError):
    """The client's JWT was missing or failed a check. ``reason`` is a short code for the log only."""

    def __init__(self, reason: str, *, iss: str | None = None, jti: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.iss = iss
        self.jti = jti


class KeyLookupFailed(AuthenticationFailed):
    """No usable key for a token; ``reason`` is an authentication reason code (unknown-kid...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class DataUnavailable(CdsError):
    """No source of the patient's medications could be read (CDS Hooks: 412 Precondition Failed)."""

    def __init__(self, message: str, *, failures: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.failures = failures


class FhirError(CdsError):
    """A FHIR request failed; keeps what the server said, never the token."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        outcome_text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.outcome_text = outcome_text


class FhirTemporaryError(FhirError):
    """Timeout, connection failure, 5xx or 429."""


class FhirFatalError(FhirError):
    """A 4xx answer, or a body that is not FHIR JSON."""


class NotSupported(FhirFatalError):
    """The server does not offer this resource type (404 on the type, or OperationOutcome not-supported)."""


class NotFhirJson(FhirFatalError):
    """JSON that is not the FHIR resource expected (no resourceType, wrong shape)."""


class StoreUnavailable(CdsError):
    """The store cannot take a write now (down, locked past the bounded wait, file deleted or replaced).

    ``message`` names the kind of fault only; it is safe to log and to show the caller.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationInvalid(CdsError):
    """A setting the service cannot run with; ``setting`` is its environment name (``CDS_...``)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


class RuleSetInvalid(CdsError):
    """A knowledge-base file failed validation. The message names the file and the field."""


class InternalError(CdsError):
    """An unexpected failure inside an evaluation; logged where it happened, answered 500 without internals."""
