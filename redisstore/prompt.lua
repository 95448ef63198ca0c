-- prompt.lua: sets or removes a conversation's pinned system prompt and
-- refreshes its idle TTL.
--
-- KEYS[1]  messages, KEYS[2] meta, KEYS[3] ids: as in append.lua
-- ARGV[1]  the prompt's JSON, or "" to remove the prompt
-- ARGV[2]  the idle TTL, in milliseconds
-- ARGV[3]  the format version the client writes
--
-- Returns 1, or the error reply "CHATRING_FORMAT ..." when the
-- conversation is in another format.
local messages, meta, ids = KEYS[1], KEYS[2], KEYS[3]
local ttl = ARGV[2]

local version = redis.call('HGET', meta, 'v')
if version and version ~= ARGV[3] then
  return redis.error_reply('CHATRING_FORMAT conversation in format ' .. version ..
    ', this client writes format ' .. ARGV[3])
end
if ARGV[1] == '' then
  redis.call('HDEL', meta, 'prompt')
  -- Only v left: the conversation never had a message; remove it whole.
  if redis.call('HLEN', meta) == 1 then
    redis.call('DEL', meta)
  end
else
  redis.call('HSET', meta, 'v', ARGV[3], 'prompt', ARGV[1])
end
redis.call('PEXPIRE', messages, ttl)
redis.call('PEXPIRE', meta, ttl)
redis.call('PEXPIRE', ids, ttl)
return 1
