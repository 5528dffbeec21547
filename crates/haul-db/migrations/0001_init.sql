-- Haul's own tables live in their own schema, apart from the data and from
-- apalis's queue tables.
CREATE SCHEMA IF NOT EXISTS haul;

CREATE TABLE haul.api_keys (
    -- The key's first 8 characters: shown by `haul keys list`, used to find the row.
    prefix      text PRIMARY KEY,
    tenant      text NOT NULL,
    -- SHA-256 of the whole key. Keys are 256-bit random, so a fast hash is
    -- enough: there is nothing to brute-force.
    key_hash    bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE haul.exports (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    dataset         text NOT NULL,
    format          text NOT NULL,
    compression     text NOT NULL,
    -- The validated ExportSpec the worker runs.
    spec            jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    expires_at      timestamptz,
    rows_estimate   bigint,
    rows            bigint NOT NULL DEFAULT 0,
    bytes           bigint NOT NULL DEFAULT 0,
    -- Fencing: every claim bumps attempt and draws a new lease; only the
    -- holder of the current lease may checkpoint or mark success.
    attempt         integer NOT NULL DEFAULT 0,
    lease           uuid,
    cancel_requested boolean NOT NULL DEFAULT false,
    object_key      text,
    upload_id       text,
    -- Key of the last row present when the export first started (key::text per column).
    high_water      text[],
    sha256          text,
    content_type    text,
    filename        text,
    error_code      text,
    error_message   text,
    idempotency_key text,
    request_hash    bytea
);

CREATE INDEX exports_tenant_id ON haul.exports (tenant, id DESC);
CREATE INDEX exports_active ON haul.exports (tenant) WHERE status IN ('queued', 'running');
CREATE UNIQUE INDEX exports_idempotency ON haul.exports (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One row per uploaded part: the checkpoint a resumed export continues from.
CREATE TABLE haul.export_parts (
    export_id    uuid NOT NULL REFERENCES haul.exports (id) ON DELETE CASCADE,
    part_number  integer NOT NULL,
    etag         text NOT NULL,
    -- Key of the last row in this part (key::text per column).
    cursor       text[],
    rows         bigint NOT NULL,   -- rows in the export up to and including this part
    bytes        bigint NOT NULL,   -- object bytes up to and including this part
    sha_state    jsonb NOT NULL,    -- running SHA-256 after this part
    -- The part that closes the file (JSON's `]`): after it, only completion is left.
    is_final     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (export_id, part_number)
);
