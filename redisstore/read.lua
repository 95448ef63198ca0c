-- read.lua: reads a conversation's window, its pinned prompt and its
-- format version in one step, and refreshes its idle TTL (a read is an
-- access). The reply is bounded by the window: at most ARGV[1] messages.
--
-- KEYS[1]  messages, KEYS[2] meta, KEYS[3] ids: as in append.lua
-- ARGV[1]  the window: how many of the newest messages to return
-- ARGV[2]  the idle TTL, in milliseconds
-- ARGV[3]  "1" to return the pinned prompt, "0" not to
--
-- Returns {version, prompt, messages}: version is meta's v ("" for an
-- unknown conversation), prompt the pinned prompt's JSON ("" when there is
-- none or it was not asked for), messages the newest ARGV[1] messages of
-- the list, oldest first.
local messages, meta, ids = KEYS[1], KEYS[2], KEYS[3]
local ttl = ARGV[2]

local state = redis.call('HMGET', meta, 'v', 'prompt')
local prompt = ''
if ARGV[3] == '1' then
  prompt = state[2] or ''
end
local window = redis.call('LRANGE', messages, -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', messages, ttl)
redis.call('PEXPIRE', meta, ttl)
redis.call('PEXPIRE', ids, ttl)
return {state[1] or '', prompt, window}
