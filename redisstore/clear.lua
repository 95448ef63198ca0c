-- clear.lua: empties a conversation's window. The messages and their
-- idempotency tokens go; the rest of meta stays, so Seq continues after
-- the last one given and the pinned prompt is kept. Refreshes the idle
-- TTL.
--
-- KEYS[1]  messages, KEYS[2] meta: as in append.lua
-- ARGV[1]  the idle TTL, in milliseconds
--
-- Returns 1.
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 'ids')
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
