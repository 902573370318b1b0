-- API keys: the public id looks a key up; only the SHA-256 digest of its
-- secret is kept.
create table api_keys (
    id text primary key,
    name text not null,
    role text not null,
    secret_sha256 bytea not null,
    created_at timestamptz not null,
    revoked_at timestamptz
);
