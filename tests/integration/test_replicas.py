"""Two real replicas on one PostgreSQL: feedback counted once, a token replayed across them refused."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from cds_service.store.opening import open_store
from cds_service.store.records import TopicFeedback
from tests.integration.processes import ServiceProcess, serving

pytestmark = pytest.mark.integration
ISS = "https://ehr.replicas.test"
PUBLIC = "https://cds.replicas.test"
SERVICE = "/cds-services/ketamine-infusion-check"


class Signer:
    def __init__(self, jwks_path: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP384R1())
        jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwks_path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}))

    def token(self, path: str) -> str:
        now = int(time.time())
        claims = {"iss": ISS, "aud": PUBLIC + path, "iat": now, "exp": now + 300}
        claims["jti"] = str(uuid.uuid4())
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": "k1"})


def _post_feedback(replica: ServiceProcess, signer: Signer, item: dict) -> int:
    path = f"{SERVICE}/feedback"
    headers = {"Authorization": f"Bearer {signer.token(path)}"}
    response = httpx.post(replica.base + path, json={"feedback": [item]}, headers=headers)
    return response.status_code


def _report(url: str) -> list[TopicFeedback]:
    async def read() -> list[TopicFeedback]:
        store = await open_store(url)
        try:
            return await store.feedback_report()
        finally:
            await store.close()

    return asyncio.run(read())


def test_two_replicas_on_one_postgres_count_feedback_once_and_refuse_a_replayed_token(
    tmp_path: Path, postgres_url: str
) -> None:
    signer = Signer(tmp_path / "jwks.json")
    settings = {
        "CDS_DATABASE_URL": postgres_url,
        "CDS_AUTH": "jwt",
        "CDS_PUBLIC_BASE_URL": PUBLIC,
        "CDS_TRUSTED_ISSUERS": json.dumps({ISS: {"jwks_file": str(tmp_path / "jwks.json")}}),
    }
    item = {
        "card": str(uuid.uuid4()),
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-27T15:00:01Z",
        "overrideReason": {"reason": {"code": "already-held", "system": "http://example.org/r"}},
    }
    with serving(tmp_path, "a", **settings) as a, serving(tmp_path, "b", **settings) as b:
        assert [_post_feedback(a, signer, item), _post_feedback(b, signer, item)] == [200, 200]
        token = {"Authorization": f"Bearer {signer.token('/cds-services')}"}
        assert httpx.get(a.base + "/cds-services", headers=token).status_code == 200
        assert httpx.get(b.base + "/cds-services", headers=token).status_code == 401
        lines = [json.loads(line) for line in b.log().splitlines() if line.startswith("{")]
        assert any(line.get("reason") == "replayed-jti" for line in lines)
        assert httpx.get(a.base + "/ready").status_code == 200
    (row,) = _report(postgres_url)
    assert (row.topic, row.overridden, row.override_reasons) == (
        "(unknown card)",
        1,
        (("already-held", 1),),
    )
