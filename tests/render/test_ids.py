"""Card ids: canonical random version-4 UUIDs, never repeated."""

from __future__ import annotations

import os
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


def test_new_uuid_in_a_forked_worker_differs_from_the_parents_next_id() -> None:
    ids.new_uuid()  # the batch is filled before the fork, as in a pre-forking server
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, ids.new_uuid().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    childs = os.read(read, 64).decode()
    os.close(read)
    assert uuid.UUID(childs).version == 4
    assert childs != ids.new_uuid()
