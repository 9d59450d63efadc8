"""The benchmark: the service against a bare FastAPI endpoint, on loopback (imported only by the CLI)."""
