-- Readers of the global log go in commit-safe order: by writing transaction,
-- then position. Positions are taken before the writing transaction has its
-- id, so two appends can take them in the opposite order of their ids; a
-- reader in position order could then pass over an event of the later id
-- that commits last. In (tx, position) order every event that becomes
-- readable later sorts after every event read so far.
create index events_commit_order on events (tx, global_position);
