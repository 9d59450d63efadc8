"""Versioned schema migrations of both stores; a version, once shipped, is never edited.

Each store records the versions it applied in ``schema_migrations`` and applies the missing ones at
start-up, serialised between processes (SQLite's write lock; a PostgreSQL advisory lock).
"""

from __future__ import annotations

_SQLITE_V1 = """
CREATE TABLE evaluations (
    hook_instance TEXT NOT NULL,
    service_id TEXT NOT NULL,
    hook TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    kb_version TEXT NOT NULL,
    kb_digest TEXT NOT NULL,
    duration_ms REAL NOT NULL
);
CREATE INDEX evaluations_hook_instance ON evaluations (hook_instance);
CREATE TABLE evaluation_cards (
    card_uuid TEXT PRIMARY KEY,
    hook_instance TEXT NOT NULL,
    topic TEXT NOT NULL,
    indicator TEXT NOT NULL,
    rule_version INTEGER NOT NULL
);
CREATE TABLE feedback (
    card_uuid TEXT NOT NULL,
    outcome TEXT NOT NULL,
    outcome_timestamp TEXT NOT NULL,
    service_id TEXT NOT NULL,
    accepted_suggestions TEXT,
    override_system TEXT,
    override_code TEXT,
    override_display TEXT,
    has_comment INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL,
    PRIMARY KEY (card_uuid, outcome, outcome_timestamp)
)
"""

# v2: an override reason's display is free text a clinician's EHR may fill with anything, a patient's
# name included: erase what v1 stored and stop storing it. Add the shared replay cache and the table
# readiness writes to.
_SQLITE_V2 = """
UPDATE feedback SET override_display = NULL;
ALTER TABLE feedback DROP COLUMN override_display;
CREATE TABLE replay_tokens (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE INDEX replay_tokens_expiry ON replay_tokens (expires_at);
CREATE TABLE store_health (id INTEGER PRIMARY KEY, checked_at TEXT NOT NULL)
"""

# v3 (PostgreSQL v2): what shadow rules would have shown, one row per class of record matched; the
# firing id is made here and never sent, unlike a card uuid. Cards by hook instance, for the weeks.
_SHADOW = """
CREATE TABLE shadow_findings (
    firing_id TEXT NOT NULL,
    hook_instance TEXT NOT NULL,
    evaluated_at {instant} NOT NULL,
    topic TEXT NOT NULL,
    rule_version INTEGER NOT NULL,
    indicator TEXT NOT NULL,
    record_class TEXT NOT NULL,
    PRIMARY KEY (firing_id, record_class)
);
CREATE INDEX evaluation_cards_hook_instance ON evaluation_cards (hook_instance)
"""

# v4 (PostgreSQL v3): what was announced, for the repeat filter (CDS_REPEAT_FILTER): a hash of the
# card's rule, content, patient, encounter, user and order or appointment (never the patient id in
# clear), kept until it expires.
_ANNOUNCEMENTS = """
CREATE TABLE announcements (key TEXT PRIMARY KEY, expires_at {real} NOT NULL);
CREATE INDEX announcements_expiry ON announcements (expires_at)
"""

SQLITE_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, _SQLITE_V1),
    (2, _SQLITE_V2),
    (3, _SHADOW.format(instant="TEXT")),
    (4, _ANNOUNCEMENTS.format(real="REAL")),
)

_POSTGRES_V1 = """
CREATE TABLE evaluations (
    id BIGSERIAL PRIMARY KEY,
    hook_instance TEXT NOT NULL,
    service_id TEXT NOT NULL,
    hook TEXT NOT NULL,
    evaluated_at TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL,
    kb_version TEXT NOT NULL,
    kb_digest TEXT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL
);
CREATE INDEX evaluations_hook_instance ON evaluations (hook_instance);
CREATE TABLE evaluation_cards (
    card_uuid TEXT PRIMARY KEY,
    hook_instance TEXT NOT NULL,
    topic TEXT NOT NULL,
    indicator TEXT NOT NULL,
    rule_version INTEGER NOT NULL
);
CREATE TABLE feedback (
    card_uuid TEXT NOT NULL,
    outcome TEXT NOT NULL,
    outcome_timestamp TIMESTAMPTZ NOT NULL,
    service_id TEXT NOT NULL,
    accepted_suggestions TEXT,
    override_system TEXT,
    override_code TEXT,
    has_comment BOOLEAN NOT NULL DEFAULT FALSE,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (card_uuid, outcome, outcome_timestamp)
);
CREATE TABLE replay_tokens (key TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL);
CREATE INDEX replay_tokens_expiry ON replay_tokens (expires_at)
"""

POSTGRES_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, _POSTGRES_V1),
    (2, _SHADOW.format(instant="TIMESTAMPTZ")),
    (3, _ANNOUNCEMENTS.format(real="DOUBLE PRECISION")),
)
