-- API processes cache key lookups; a revoked or deleted key is announced on
-- this channel in the same transaction, so every process forgets it at once
-- instead of when its cache entry expires.
CREATE FUNCTION haul.announce_api_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('haul_api_keys', OLD.prefix);
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_announce_change
    AFTER UPDATE OR DELETE ON haul.api_keys
    FOR EACH ROW EXECUTE FUNCTION haul.announce_api_key_change();
