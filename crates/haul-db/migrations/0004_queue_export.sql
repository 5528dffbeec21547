-- Queues an export in one statement: POST /v1/exports used to take six round
-- trips (begin, lock, count, insert, enqueue, commit), and on a database
-- server busy with exports each one waits its turn for a CPU.
--
-- Every export of a tenant is inserted under the tenant's advisory lock, so
-- neither the idempotency lookup nor the count of active exports below can
-- change before this transaction commits. Each statement of a plpgsql
-- function takes a fresh snapshot, so both see every insert committed before
-- the lock was granted.
--
-- Returns the export that answers the request: the new one, or the one an
-- earlier request with the same idempotency key made within the key's window
-- (the caller tells them apart by id). A tenant at its limit gets SQLSTATE
-- HL429 with its count of active exports (up to the limit) as the message, and
-- nothing changes.
--
-- The job row is apalis-postgres's own (its `push_tasks` inserts the same
-- columns); every end-to-end test fails at once if that table changes.
CREATE FUNCTION haul.queue_export(
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
    VALUES (p_job_id, p_job_type, p_job, 'Pending', 0, p_job_max_attempts, now(), 0, p_id::text);
END;
$$;
