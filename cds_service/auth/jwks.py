"""Public keys of trusted CDS clients: JWK Sets fetched over HTTP or read from a file, and cached."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from cds_service.errors import KeyLookupFailed

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256_000
FETCH_TIMEOUT = httpx.Timeout(5.0)
_SIGNING_KEY_TYPES = frozenset({"EC", "RSA"})


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, Mapping[str, Any]]


class JwksCache:
    """Keys by ``kid`` per JWKS source; a URL is refetched on an unknown kid at most every interval."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        min_refresh_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._sets: dict[str, _KeySet] = {}
        self._attempted_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key(self, source: str | Path, kid: str, alg: str) -> jwt.PyJWK:
        """The key ``kid`` from ``source`` (a JWKS URL or file), bound to algorithm ``alg``."""
        if isinstance(source, Path):
            return _bind(self._find_in_file(source, kid), alg)
        return _bind(await self._find_at_url(source, kid), alg)

    def _find_in_file(self, path: Path, kid: str) -> Mapping[str, Any]:
        cache_key = f"file:{path}"
        if cache_key not in self._sets:
            try:
                self._sets[cache_key] = parse_jwks(path.read_bytes())
            except (OSError, ValueError) as exc:
                logger.error("JWKS file unreadable: %s (%s)", path, type(exc).__name__)
                raise KeyLookupFailed("jwks-unavailable") from exc
        return _pick(self._sets[cache_key], kid)

    async def _find_at_url(self, url: str, kid: str) -> Mapping[str, Any]:
        known = self._sets.get(url)
        if known is not None and kid in known.keys:
            return known.keys[kid]
        async with self._locks.setdefault(url, asyncio.Lock()):
            known = self._sets.get(url)
            if (known is None or kid not in known.keys) and self._may_fetch(url):
                await self._refresh(url)
        return _pick(self._sets.get(url), kid)

    def _may_fetch(self, url: str) -> bool:
        last = self._attempted_at.get(url)
        return last is None or self._clock() - last >= self._min_refresh

    async def _refresh(self, url: str) -> None:
        self._attempted_at[url] = self._clock()
        try:
            self._sets[url] = parse_jwks(await self._download(url))
        except (httpx.HTTPError, ValueError) as exc:
            # Keep serving the last good set: a JWKS outage must not lock out known keys.
            logger.warning("JWKS fetch failed: %s (%s)", url, type(exc).__name__)

    async def _download(self, url: str) -> bytes:
        headers = {"Accept": "application/json"}
        async with self._http.stream("GET", url, headers=headers, timeout=FETCH_TIMEOUT) as resp:
            if resp.status_code != 200:
                raise ValueError(f"JWKS answered HTTP {resp.status_code}")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("JWKS larger than the limit")
            return bytes(body)


def parse_jwks(raw: bytes) -> _KeySet:
    """The public signing keys of a JWK Set document, by kid; other entries are skipped."""
    try:
        document = json.loads(raw)
    except RecursionError as exc:  # a pathologically nested document is not a JWK Set
        raise ValueError("not a JWK Set: nested too deeply") from exc
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWK Set: no 'keys' array")
    keys = {entry["kid"]: entry for entry in entries if _is_public_signing_key(entry)}
    return _KeySet(keys=keys)


def _is_public_signing_key(entry: object) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
        return False
    if entry.get("kty") not in _SIGNING_KEY_TYPES or entry.get("use", "sig") != "sig":
        return False
    if "d" in entry:  # a private key published by mistake is not a key we will trust
        return False
    try:
        jwt.PyJWK(entry)
    except jwt.PyJWTError:
        return False
    return True


def _pick(key_set: _KeySet | None, kid: str) -> Mapping[str, Any]:
    if key_set is None:
        raise KeyLookupFailed("jwks-unavailable")
    if kid not in key_set.keys:
        raise KeyLookupFailed("unknown-kid")
    return key_set.keys[kid]


def _bind(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        raise KeyLookupFailed("alg-not-allowed")
    try:
        return jwt.PyJWK(dict(jwk), algorithm=alg)
    except jwt.PyJWTError as exc:
        raise KeyLookupFailed("alg-not-allowed") from exc
