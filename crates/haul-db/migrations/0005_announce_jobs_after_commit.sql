-- A queued export's job is announced to the workers after its transaction
-- commits, not inside it.
--
-- PostgreSQL serializes the commits of all transactions that send a
-- notification: a single lock, held until the commit record is flushed to
-- disk. apalis-postgres's insert trigger (`notify_workers`) sent one from
-- every POST, so each POST waited for the previous POST's WAL flush before
-- starting its own; commits could not be grouped, and on a database server
-- busy with exports, POSTs queued behind each other.
--
-- That trigger announces only jobs already due when inserted
-- (`run_at <= now()`, the transaction's start time). The job below is due
-- one microsecond later, so the trigger stays quiet, and
-- `MetaDb::queue_export` sends the same announcement itself once the export
-- is committed; a transaction that only notifies has no WAL to flush. Were
-- apalis to announce every insert, jobs would merely be announced twice.
--
-- Otherwise unchanged from migration 4.
CREATE OR REPLACE FUNCTION haul.queue_export(
    p_id uuid,
    p_tenant text,
    p_dataset text,
    p_format text,
    p_compression text,
    p_spec jsonb,
    p_idempotency_key text,
    p_request_hash bytea,
    p_idempotency_window_hours integer,
    p_max_active bigint,
    p_job_type text,
    p_job_id text,
    p_job bytea,
    p_job_max_attempts integer
) RETURNS SETOF haul.exports LANGUAGE plpgsql AS $$
DECLARE
    earlier haul.exports;
    active bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('haul-tenant:' || p_tenant, 0));
    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO earlier FROM haul.exports
         WHERE tenant = p_tenant AND idempotency_key = p_idempotency_key;
        IF FOUND AND earlier.created_at > now() - make_interval(hours => p_idempotency_window_hours) THEN
            RETURN NEXT earlier;
            RETURN;
        END IF;
        -- Older than its window, the key may name a new export.
        UPDATE haul.exports SET idempotency_key = NULL
         WHERE tenant = p_tenant AND idempotency_key = p_idempotency_key;
    END IF;
    -- Counting stops at the limit: the lock is held meanwhile, and a tenant
    -- far over it need not have every active export counted.
    SELECT count(*) INTO active FROM (
        SELECT FROM haul.exports
         WHERE tenant = p_tenant AND status IN ('queued', 'running')
         LIMIT p_max_active) AS counted;
    IF active >= p_max_active THEN
        RAISE EXCEPTION USING ERRCODE = 'HL429', MESSAGE = active::text;
    END IF;
    RETURN QUERY
        INSERT INTO haul.exports (id, tenant, dataset, format, compression, spec, status,
                                  idempotency_key, request_hash)
        VALUES (p_id, p_tenant, p_dataset, p_format, p_compression, p_spec, 'queued',
                p_idempotency_key, p_request_hash)
        RETURNING *;
    INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority,
                             idempotency_key)
    -- Due a microsecond after this transaction began: see the top of this file.
    VALUES (p_job_id, p_job_type, p_job, 'Pending', 0, p_job_max_attempts,
            now() + interval '1 microsecond', 0, p_id::text);
END;
$$;
