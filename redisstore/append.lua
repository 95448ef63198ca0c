-- append.lua: appends one message to a conversation, or returns the message
-- already stored under the same idempotency key. Redis runs a script
-- without interleaving any other command, so the check, the sequence
-- number, the push, the trim and the TTL refresh are one atomic step.
--
-- KEYS[1]  messages: LIST of the window's messages, oldest first (FORMAT.md)
-- KEYS[2]  meta: HASH with v (format version), seq (the last Seq given),
--          prompt (the pinned system prompt)
-- KEYS[3]  ids: ZSET of the idempotency keys of the window's messages,
--          each scored by its message's Seq
-- ARGV[1]  the message: a JSON object without a "seq" member
-- ARGV[2]  its idempotency key: "i" .. Message.ID, or "g" .. an ID the
--          client generated for a message without one
-- ARGV[3]  the window: how many messages the list keeps (2 x MaxTurns)
-- ARGV[4]  the idle TTL, in milliseconds
-- ARGV[5]  the format version the client writes
--
-- Returns {1, seq} when it stored the message with Seq seq (the newest);
-- {0, stored} when a message with that idempotency key is in the window,
-- stored being that message as the list holds it; or the error reply
-- "CHATRING_FORMAT ..." when the conversation is in another format.
local messages, meta, ids = KEYS[1], KEYS[2], KEYS[3]
local ttl = ARGV[4]

local function touch()
  redis.call('PEXPIRE', messages, ttl)
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', ids, ttl)
end

local state = redis.call('HMGET', meta, 'v', 'seq')
local version, last = state[1], tonumber(state[2])
if version and version ~= ARGV[5] then
  return redis.error_reply('CHATRING_FORMAT conversation in format ' .. version ..
    ', this client writes format ' .. ARGV[5])
end

local found = redis.call('ZSCORE', ids, ARGV[2])
if found and last then
  -- The list holds Seq last-n+1 .. last: the message is at found-(last-n+1).
  local index = tonumber(found) - (last - redis.call('LLEN', messages) + 1)
  local stored = index >= 0 and redis.call('LINDEX', messages, index)
  if stored then
    touch()
    return {0, stored}
  end
end

local seq = redis.call('HINCRBY', meta, 'seq', 1)
if not version then
  redis.call('HSET', meta, 'v', ARGV[5])
end
-- The message's JSON object with "seq" as its first member.
local n = redis.call('RPUSH', messages,
  '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[1], 2))
redis.call('ZADD', ids, seq, ARGV[2])
local window = tonumber(ARGV[3])
if n > window then
  redis.call('LTRIM', messages, n - window, -1)
  redis.call('ZREMRANGEBYSCORE', ids, '-inf', seq - window)
end
touch()
return {1, seq}
