"""A hostile FHIR server for the real-process tests, on loopback: ``python -m tests.hardening.hostile_fhir
--port P``. Each base misbehaves in one way:

- ``/fhir``: answers; searches hold one clonazepam statement, a Medication read waits ``--read-delay``;
- ``/big``: every answer is 300 MB of a Bundle that never closes; ``/bomb``: a 300 MB gzip bomb;
- ``/hang``: never answers. ``/stats`` counts the Medication reads received.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HUGE = 300_000_000
_OPEN = b'{"resourceType":"Bundle","type":"searchset","entry":['


def clonazepam() -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms-clonazepam",
        "status": "active",
        "subject": {"reference": "Patient/pt-hostile"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "197527", "display": "Clonazepam 0.5 MG"}]
        },
    }


def lorazepam(medication_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": medication_id,
        "code": {"coding": [{"system": RXNORM, "code": "6470", "display": "lorazepam"}]},
    }


class HostileFhir:
    """The ASGI app (plain ASGI: it must stream and hang as it likes)."""

    def __init__(self, read_delay: float) -> None:
        self.read_delay = read_delay
        self.reads = 0
        self._bomb_body = gzip.compress(_OPEN + b" " * HUGE + b"]}", 9)

    async def __call__(self, scope: Scope, receive: Any, send: Send) -> None:
        base, _, rest = scope["path"].strip("/").partition("/")
        handler = getattr(self, f"_{base}", None)
        if handler is None:
            await _answer(send, 404, b"")
        else:
            await handler(rest, send)

    async def _fhir(self, rest: str, send: Send) -> None:
        if rest.startswith("Medication/"):
            self.reads += 1
            await asyncio.sleep(self.read_delay)
            await _answer(send, 200, json.dumps(lorazepam(rest.split("/")[1])).encode())
            return
        entries = [{"resource": clonazepam()}] if rest == "MedicationStatement" else []
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        await _answer(send, 200, json.dumps(bundle).encode())

    async def _big(self, _rest: str, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _FHIR_JSON})
        await send({"type": "http.response.body", "body": _OPEN, "more_body": True})
        chunk = b" " * 1_000_000
        for _ in range(HUGE // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"]}"})

    async def _bomb(self, _rest: str, send: Send) -> None:
        await _answer(send, 200, self._bomb_body, [(b"content-encoding", b"gzip")])

    async def _hang(self, _rest: str, send: Send) -> None:
        await asyncio.sleep(3600)

    async def _stats(self, _rest: str, send: Send) -> None:
        await _answer(send, 200, json.dumps({"reads": self.reads}).encode())


_FHIR_JSON = [(b"content-type", b"application/fhir+json")]


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": _FHIR_JSON + (headers or [])}
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--read-delay", type=float, default=0.0)
    args = parser.parse_args()
    app = HostileFhir(args.read_delay)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
