-- Haul demo seed: creates and fills schema "demo" with deterministic, realistic data.
--
--   createdb -h 127.0.0.1 -U postgres haul_demo
--   psql -h 127.0.0.1 -U postgres -d haul_demo -v ON_ERROR_STOP=1 -f config/demo-seed.sql
--
-- Idempotent: it drops and recreates schema "demo", so running it again gives the
-- same tables with the same rows (and the same bytes in every export).
--
-- Tables (the datasets in config/demo.toml):
--   demo.customers    ~20,000 rows   key (id),                tenant column
--   demo.orders      ~300,000 rows   key (id),                tenant column
--   demo.order_items ~600,000 rows   key (order_id, line_no)  composite key, no tenant
--
-- Determinism: nothing uses random(). Every "random" value is a hash of the row's
-- series number and a per-column salt (hashint8extended, the function PostgreSQL uses
-- for hash partitioning, so it is stable across runs, machines and releases). Row i
-- always gets the same values, whatever the plan or the number of parallel workers.
--
-- Awkward values are deliberate: text with quotes, commas, newlines, CR, tabs,
-- backslashes, "\.", leading/trailing spaces, empty strings next to NULLs, and
-- non-ASCII text (accents, combining marks, CJK, emoji with ZWJ) exercise CSV
-- quoting, TSV backslash escapes, JSON string escapes and UTF-8 handling. Numerics
-- keep trailing zeros (12.50) and timestamps carry microseconds, so any lossy
-- conversion shows up when an export is compared with COPY's output.

\set ON_ERROR_STOP on
SET client_encoding = 'UTF8';     -- this file is UTF-8 whatever the client's locale
SET client_min_messages = warning; -- hide "drop cascades to ..." notices on re-runs

BEGIN;  -- all or nothing: a failed run never leaves a half-filled schema behind

-- Bulk-load tuning for this transaction only.
SET LOCAL work_mem = '64MB';              -- hash aggregate of order totals in memory
SET LOCAL maintenance_work_mem = '256MB'; -- faster primary key / index builds
SET LOCAL synchronous_commit = off;       -- demo data: no need to wait for the WAL flush

DROP SCHEMA IF EXISTS demo CASCADE;
CREATE SCHEMA demo;
COMMENT ON SCHEMA demo IS 'Haul demo data, created by config/demo-seed.sql';

-- Helpers live in pg_temp so that they vanish with the session and schema "demo"
-- contains only the demo tables.

-- A uniform draw in [0, 1) for row i and a salt (one salt per column/decision).
CREATE FUNCTION pg_temp.rnd(i bigint, salt bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8extended(i, salt) & 2147483647)::double precision / 2147483648.0 $$;

-- One element of arr chosen uniformly for row i.
CREATE FUNCTION pg_temp.pick(arr text[], i bigint, salt bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT arr[1 + floor(pg_temp.rnd(i, salt) * cardinality(arr))::int] $$;


-- ---------------------------------------------------------------------------
-- demo.customers: 20,000 rows.
-- Tables are created without indexes or constraints; those are added after the
-- load, which is several times faster than maintaining them row by row.
-- ---------------------------------------------------------------------------
CREATE TABLE demo.customers (
    id            bigint      NOT NULL,
    tenant        text        NOT NULL,
    email         text        NOT NULL,
    full_name     text        NOT NULL,
    country       char(2)     NOT NULL,
    created_at    timestamptz NOT NULL,
    password_hash text        NOT NULL,  -- internal: the demo dataset leaves it out
    notes         text                   -- mostly NULL; some '' to tell NULL from empty
);

INSERT INTO demo.customers
SELECT
    i,
    -- Uneven tenants, like real ones: acme 50 %, globex 30 %, initech 20 %.
    CASE WHEN r.t < 0.5 THEN 'acme' WHEN r.t < 0.8 THEN 'globex' ELSE 'initech' END,
    -- ASCII e-mail built from the ASCII spelling of the first name; the id keeps it unique.
    lower(n.first_ascii[r.fi]) || '.' || lower(n.last_ascii[r.li]) || i || '@'
        || pg_temp.pick(n.domains, i, 13),
    CASE
        WHEN r.nm < 0.04 THEN pg_temp.pick(n.cjk_names, i, 14)          -- e.g. 山田 太郎
        WHEN r.nm < 0.07 THEN n.first[r.fi] || ' ' || n.last[r.li] || ' '
                              || pg_temp.pick(n.emoji, i, 15)          -- e.g. Zoë Dubois 🚀
        ELSE n.first[r.fi] || ' ' || n.last[r.li]
    END,
    pg_temp.pick(n.countries, i, 16),
    -- Sign-ups spread over 2021-01-01 .. 2023-12-31 (before any order), with microseconds.
    timestamptz '2021-01-01 00:00:00+00' + pg_temp.rnd(i, 17) * interval '1095 days',
    -- Looks like a bcrypt hash; it only has to be something that must not be exported.
    '$2b$12$' || substr(md5('salt' || i), 1, 22) || substr(md5('hash' || i), 1, 31),
    CASE
        WHEN r.nt < 0.70 THEN NULL
        WHEN r.nt < 0.75 THEN ''
        ELSE pg_temp.pick(n.notes, i, 19)
    END
FROM generate_series(1, 20000) AS i
CROSS JOIN (SELECT
    ARRAY['Ana', 'José', 'Zoë', 'Jürgen', 'Søren', 'François', 'Łucja', 'Siobhán',
          'Renée', 'Mohammed', 'Priya', 'Wei', 'Olusegun', 'Chloé', 'Björn', 'Emma',
          'Liam', 'Noah', 'Sofía', 'Mateus']                               AS first,
    ARRAY['Ana', 'Jose', 'Zoe', 'Juergen', 'Soeren', 'Francois', 'Lucja', 'Siobhan',
          'Renee', 'Mohammed', 'Priya', 'Wei', 'Olusegun', 'Chloe', 'Bjoern', 'Emma',
          'Liam', 'Noah', 'Sofia', 'Mateus']                               AS first_ascii,
    ARRAY['Smith', 'Müller', 'García', 'Núñez', 'O''Brien', 'van der Berg', 'Dubois',
          'Kowalski', 'Nakamura', 'Østergaard', 'Nguyen', 'Okafor', 'Rossi',
          'Schröder', 'Johnson', 'Silva']                                  AS last,
    ARRAY['Smith', 'Mueller', 'Garcia', 'Nunez', 'OBrien', 'vanderBerg', 'Dubois',
          'Kowalski', 'Nakamura', 'Oestergaard', 'Nguyen', 'Okafor', 'Rossi',
          'Schroeder', 'Johnson', 'Silva']                                 AS last_ascii,
    ARRAY['山田 太郎', '佐藤 花子', '日本 一郎', '鈴木 美咲', '김민준', 'Иван Петров',
          'Ελένη Παπαδοπούλου']                                             AS cjk_names,
    ARRAY['🚀', '🎉', '👩‍💻', '🇯🇵', '☕']                                    AS emoji,
    ARRAY['example.com', 'example.org', 'mail.example.net']               AS domains,
    ARRAY['US', 'US', 'US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA', 'ES', 'NL']
                                                                          AS countries,
    ARRAY[
        'VIP customer',
        'Prefers "express" shipping',                    -- quotes
        'Call before delivery, ask for Bob',             -- comma
        E'Line one\nLine two',                           -- newline inside a field
        E'Windows line end\r\nsecond line',             -- CR LF inside a field
        'Said: "we''ll be back", then left',             -- quotes, comma, apostrophe
        'Owes €12,50 from last year',                    -- non-ASCII and comma
        E'C:\\Users\\demo\\notes.txt',                   -- backslashes (TSV escapes them)
        '\.',                                            -- COPY''s end-of-data marker
        '  leading and trailing spaces  ',
        'Café owner 日本 🍜',
        U&'Cafe\0301 with a combining accent',         -- e + U+0301, not the precomposed é
        'NULL'                                           -- the word, not a NULL
    ]                                                                     AS notes
) AS n
CROSS JOIN LATERAL (SELECT
    pg_temp.rnd(i, 10) AS t,
    1 + floor(pg_temp.rnd(i, 11) * 20)::int AS fi,   -- index into first / first_ascii
    1 + floor(pg_temp.rnd(i, 12) * 16)::int AS li,   -- index into last / last_ascii
    pg_temp.rnd(i, 18) AS nm,
    pg_temp.rnd(i, 20) AS nt
) AS r;

ALTER TABLE demo.customers ADD PRIMARY KEY (id);
CREATE INDEX ON demo.customers (tenant, id);  -- tenant-scoped keyset pages


-- ---------------------------------------------------------------------------
-- demo.order_items: ~600,000 rows (1 to 3 lines per order, 2 on average).
-- Filled before demo.orders so that each order's total can be the sum of its lines.
-- Order ids run over 1..306,000 with ~2 % left out (deleted orders): keyset paging
-- must not assume dense ids, and the same ids are left out in both tables.
-- ---------------------------------------------------------------------------
CREATE TABLE demo.order_items (
    order_id   bigint        NOT NULL,
    line_no    int           NOT NULL,
    sku        text          NOT NULL,
    quantity   int           NOT NULL,
    unit_price numeric(10,2) NOT NULL
);

INSERT INTO demo.order_items
SELECT
    o.id,
    l.line_no,
    'SKU-' || lpad((1 + floor(pg_temp.rnd(o.id * 4 + l.line_no, 31) * 5000))::int::text, 5, '0'),
    -- Mostly 1, sometimes up to 10 (cubing skews the draw towards small values).
    1 + floor(pg_temp.rnd(o.id * 4 + l.line_no, 32) ^ 3 * 10)::int,
    -- 0.50 .. 300.00, two decimals, trailing zeros kept by numeric(10,2).
    round((0.5 + pg_temp.rnd(o.id * 4 + l.line_no, 33) * 299.5)::numeric, 2)
FROM generate_series(1, 306000) AS o(id)
CROSS JOIN LATERAL generate_series(1, 1 + floor(pg_temp.rnd(o.id, 30) * 3)::int) AS l(line_no)
WHERE pg_temp.rnd(o.id, 99) >= 0.02;   -- the same ~2 % gaps as demo.orders

ALTER TABLE demo.order_items ADD PRIMARY KEY (order_id, line_no);


-- ---------------------------------------------------------------------------
-- demo.orders: ~300,000 rows.
-- ---------------------------------------------------------------------------
CREATE TABLE demo.orders (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant        text          NOT NULL,
    customer_id   bigint        NOT NULL,
    status        text          NOT NULL,
    total         numeric(12,2) NOT NULL,
    currency      char(3)       NOT NULL,
    created_at    timestamptz   NOT NULL,
    shipping_note text,
    metadata      jsonb         NOT NULL
);

INSERT INTO demo.orders
    (id, tenant, customer_id, status, total, currency, created_at, shipping_note, metadata)
SELECT
    o.id,
    c.tenant,                   -- an order belongs to its customer's tenant
    c.id,
    CASE                        -- paid 35 %, shipped 40 %, pending 10 %, cancelled 10 %, refunded 5 %
        WHEN r.st < 0.35 THEN 'paid'
        WHEN r.st < 0.75 THEN 'shipped'
        WHEN r.st < 0.85 THEN 'pending'
        WHEN r.st < 0.95 THEN 'cancelled'
        ELSE 'refunded'
    END,
    t.total,
    CASE c.country
        WHEN 'US' THEN 'USD' WHEN 'CA' THEN 'CAD' WHEN 'GB' THEN 'GBP' WHEN 'JP' THEN 'JPY'
        WHEN 'BR' THEN 'BRL' WHEN 'IN' THEN 'INR' ELSE 'EUR'
    END,
    -- 2024-01-01 .. 2025-12-31 (731 days). Increasing with id, as real orders are, so
    -- a created_at range maps to an id range; uneven gaps and microseconds from the hash.
    timestamptz '2024-01-01 00:00:00+00'
        + ((o.id - 1) + pg_temp.rnd(o.id, 42)) / 306000.0 * interval '731 days',
    CASE
        WHEN r.sn < 0.60 THEN NULL
        WHEN r.sn < 0.65 THEN ''
        WHEN r.sn < 0.70 THEN 'Gate code ' || (o.id % 10000) || ', ring twice'
        ELSE pg_temp.pick(ARRAY[
            'Leave at the door',
            'Leave with "Mrs. Smith", next door',              -- quotes and comma
            E'Deliver to back entrance\nnot the front',        -- newline
            E'Fragile:\tglass',                                -- tab (TSV escapes it)
            E'Windows line end\r\nsecond line',                -- CR LF
            'Livraison après 18h, merci',                      -- accents and comma
            'Bitte beim Nachbarn abgeben (Müller)',
            '配達は午前中にお願いします',                            -- Japanese
            'Gift 🎁 — do not include the invoice',           -- emoji and em dash
            E'Path: C:\\temp\\',                               -- trailing backslash
            '"',                                               -- a lone double quote
            ',',                                               -- a lone comma
            '\.'                                               -- COPY''s end-of-data marker
        ], o.id, 44)
    END,
    -- A small object with varied value types (string, boolean, number, null, nested)
    -- and, now and then, a string that needs escaping inside JSON inside CSV.
    jsonb_build_object(
        'channel', pg_temp.pick(ARRAY['web', 'web', 'ios', 'android', 'pos'], o.id, 45),
        'gift', pg_temp.rnd(o.id, 46) < 0.1,
        'lines', t.lines,
        'coupon', CASE WHEN pg_temp.rnd(o.id, 47) < 0.15               -- JSON null when none
                       THEN pg_temp.pick(ARRAY['SAVE10', 'WELCOME', 'BLACKFRIDAY'], o.id, 48)
                  END
    ) || CASE WHEN pg_temp.rnd(o.id, 49) < 0.3                        -- key present only sometimes
              THEN jsonb_build_object('utm', jsonb_build_object('source', pg_temp.pick(
                       ARRAY['google', 'newsletter', 'partner "A"', 'ünïcödé'], o.id, 50)))
              ELSE '{}'::jsonb
         END
FROM generate_series(1, 306000) AS o(id)
CROSS JOIN LATERAL (SELECT
    pg_temp.rnd(o.id, 40) AS st,
    pg_temp.rnd(o.id, 43) AS sn,
    -- Skewed towards low customer ids: some customers order a lot, many rarely.
    1 + floor(pg_temp.rnd(o.id, 41) ^ 2 * 20000)::bigint AS cust
) AS r
JOIN demo.customers AS c ON c.id = r.cust
JOIN (SELECT order_id, sum(quantity * unit_price) AS total, count(*) AS lines
      FROM demo.order_items GROUP BY order_id) AS t ON t.order_id = o.id
WHERE pg_temp.rnd(o.id, 99) >= 0.02;   -- the same ~2 % gaps as demo.order_items

-- Explicit ids were inserted; move the identity past them so new rows get fresh ids.
-- (\gset stores the result in a psql variable instead of printing it.)
SELECT setval(pg_get_serial_sequence('demo.orders', 'id'), (SELECT max(id) FROM demo.orders)) \gset

ALTER TABLE demo.orders ADD PRIMARY KEY (id);
CREATE INDEX ON demo.orders (tenant, id);          -- tenant-scoped keyset pages
CREATE INDEX ON demo.orders (customer_id);         -- customer_id filters and the foreign key
CREATE INDEX ON demo.orders (created_at);          -- created_at range filters

-- Foreign keys document the relations; validating them is one join each.
ALTER TABLE demo.orders
    ADD FOREIGN KEY (customer_id) REFERENCES demo.customers (id);
ALTER TABLE demo.order_items
    ADD FOREIGN KEY (order_id) REFERENCES demo.orders (id) ON DELETE CASCADE;

COMMENT ON TABLE demo.customers   IS 'Haul demo: customers (tenant column "tenant")';
COMMENT ON TABLE demo.orders      IS 'Haul demo: orders (tenant column "tenant")';
COMMENT ON TABLE demo.order_items IS 'Haul demo: order lines, composite key (order_id, line_no)';

COMMIT;

-- Fresh statistics so the planner (and Haul's rows_estimate) are right at once.
ANALYZE demo.customers;
ANALYZE demo.orders;
ANALYZE demo.order_items;

SELECT 'demo.customers' AS "table", count(*) AS "rows" FROM demo.customers
UNION ALL SELECT 'demo.orders', count(*) FROM demo.orders
UNION ALL SELECT 'demo.order_items', count(*) FROM demo.order_items;
