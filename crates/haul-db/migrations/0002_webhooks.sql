-- Webhook deliveries: an outbox filled by a trigger in the same transaction
-- that gives an export its terminal status, so no code path that ends an
-- export (worker, sweeper, API) can forget its callback, and a crash between
-- the status change and the POST never loses it.
CREATE TABLE haul.webhook_deliveries (
    id              bigserial PRIMARY KEY,
    export_id       uuid NOT NULL REFERENCES haul.exports (id) ON DELETE CASCADE,
    url             text NOT NULL,
    -- The status that triggered the delivery; the body is the export resource
    -- as it is when the delivery is attempted.
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    -- Given up after webhooks.max_attempts.
    abandoned_at    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_deliveries_due ON haul.webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;

CREATE FUNCTION haul.enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.spec ->> 'callback_url' IS NOT NULL
       AND NEW.status IN ('succeeded', 'failed', 'cancelled')
       AND NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO haul.webhook_deliveries (export_id, url, status)
        VALUES (NEW.id, NEW.spec ->> 'callback_url', NEW.status);
        -- Wakes the deliverer at once instead of at its next poll.
        PERFORM pg_notify('haul_webhooks', NEW.id::text);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER exports_enqueue_webhook
    AFTER UPDATE OF status ON haul.exports
    FOR EACH ROW EXECUTE FUNCTION haul.enqueue_webhook();
