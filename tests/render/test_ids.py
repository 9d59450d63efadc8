"""Card ids: canonical random version-4 UUIDs, never repeated."""

from __future__ import annotations

import uuid

from cds_service.render import ids


def test_new_uuid_is_a_canonical_version_4_rfc_4122_uuid() -> None:
    for _ in range(ids.BATCH * 2 + 3):  # across batch refills
        text = ids.new_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_new_uuid_does_not_repeat() -> None:
    drawn = [ids.new_uuid() for _ in range(5000)]
    assert len(set(drawn)) == len(drawn)
