-- shopstream's analysis tables in PostgreSQL. Applied by `invoke up` (idempotent).
-- Each table is replaced whole by the analysis: DELETE then INSERT, all four tables in one
-- transaction, so a reader sees either the previous results or the new ones, never an empty
-- table (TRUNCATE is not MVCC-safe: an older REPEATABLE READ snapshot would see it empty).

CREATE TABLE IF NOT EXISTS top_products (
    product_id   text PRIMARY KEY,
    rank         integer NOT NULL,
    units        bigint NOT NULL,
    revenue      numeric(16, 2) NOT NULL,
    orders       bigint NOT NULL,
    computed_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS payment_types (
    payment_type text PRIMARY KEY,
    orders       bigint NOT NULL,
    share        numeric(7, 6) NOT NULL,
    computed_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS top_customers_last_hour (
    rank             integer PRIMARY KEY,
    user_id          text NOT NULL,
    max_order_value  numeric(16, 2) NOT NULL,
    order_id         text NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    computed_at      timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS repeat_purchases (
    user_id      text NOT NULL,
    product_id   text NOT NULL,
    order_count  integer NOT NULL,
    total_units  bigint NOT NULL,
    first_order_at timestamptz NOT NULL,
    last_order_at  timestamptz NOT NULL,
    computed_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, product_id)
);

-- One row per refresh of the four tables, written in the same transaction as them: the
-- version of the lake's raw table it read, so a check recomputes over exactly that.
CREATE TABLE IF NOT EXISTS analysis_refreshes (
    refresh_id   bigserial PRIMARY KEY,
    computed_at  timestamptz NOT NULL,
    as_of        timestamptz NOT NULL,
    lake_url     text NOT NULL,
    lake_version bigint,          -- null: there was no table yet
    lake_files   integer NOT NULL,
    orders       bigint NOT NULL
);
-- The tables a refresh wrote (a scheduled one skips the lake-wide three when the lake has
-- not changed); added after the table was first created, hence its own statement.
ALTER TABLE analysis_refreshes ADD COLUMN IF NOT EXISTS tables text[];
