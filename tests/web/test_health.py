"""GET /health: liveness for load balancers, without authentication or patient data."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_when_called_answers_ok_without_patient_data(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
