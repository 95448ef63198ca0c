-- clear.lua: empties a conversation's window. The messages go; meta stays,
-- so Seq continues after the last one given and the pinned prompt is kept;
-- ids stays, so a late retry of a cleared message's Append is recognised
-- as stored and not appended again. Refreshes the idle TTL.
--
-- KEYS[1]  messages, KEYS[2] meta, KEYS[3] ids: as in append.lua
-- ARGV[1]  the idle TTL, in milliseconds
--
-- Returns meta's seq: the Seq of the newest message the conversation was
-- given, every one up to it now cleared (0 when it has none).
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return tonumber(redis.call('HGET', KEYS[2], 'seq')) or 0
