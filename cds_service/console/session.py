"""Console sessions and CSRF tokens: signed, expiring values derived from the console token.

The token itself never travels back: the session cookie is ``sid.expiry.mac`` under a key derived
from it (so every worker and replica with the same token accepts it, and changing the token ends every
session). CSRF is a synchronizer token derived from the session id, checked on every form post; the
login form, which has no session yet, uses a signed double-submit: a random nonce in a short-lived
cookie, and its MAC in the form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "__Host-cds-console"
LOGIN_COOKIE = "__Host-cds-console-login"
LOGIN_NONCE_SECONDS = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session: its id (for the CSRF token) and when it ends."""

    sid: str
    expires_at: int


class Sessions:
    """Issues and verifies session cookies, CSRF tokens and the bearer token, in constant time."""

    def __init__(
        self, token: str, lifetime_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        secret = token.encode("utf-8")
        self._key = hmac.new(secret, b"cds-console/session-key/v1", hashlib.sha256).digest()
        self._token_digest = hashlib.sha256(secret).digest()
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the console token (compared as digests, in constant time)."""
        digest = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
        return hmac.compare_digest(digest, self._token_digest)

    def issue(self) -> str:
        """A new session cookie value."""
        sid = secrets.token_urlsafe(18)
        expires = int(self._clock()) + self.lifetime_seconds
        return f"{sid}.{expires}.{self._mac('session', sid, str(expires))}"

    def verify(self, value: str | None) -> Session | None:
        """The session a cookie value names, or None when it is forged, malformed or expired."""
        parts = (value or "").split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        sid, expires, mac = parts
        if not hmac.compare_digest(mac, self._mac("session", sid, expires)):
            return None
        if int(expires) <= self._clock():
            return None
        return Session(sid=sid, expires_at=int(expires))

    def csrf_token(self, session: Session) -> str:
        """The synchronizer token of a session's forms."""
        return self._mac("csrf", session.sid)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given, self.csrf_token(session))

    def login_nonce(self) -> tuple[str, str]:
        """(cookie value, form value) of the login form's double-submit pair."""
        nonce = f"{secrets.token_urlsafe(18)}.{int(self._clock()) + LOGIN_NONCE_SECONDS}"
        return nonce, self._mac("login", nonce)

    def login_ok(self, cookie: str | None, given: str | None) -> bool:
        """Whether the login form came back with the pair this server issued, still fresh."""
        if not cookie or not given:
            return False
        expires = cookie.rpartition(".")[2]
        fresh = expires.isdigit() and int(expires) > self._clock()
        return hmac.compare_digest(given, self._mac("login", cookie)) and fresh

    def _mac(self, purpose: str, *parts: str) -> str:
        message = "|".join((purpose, *parts)).encode("utf-8", "surrogatepass")
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())
