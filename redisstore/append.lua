-- append.lua: appends one message to a conversation, or reports the message
-- already stored under the same idempotency token. Redis runs a script
-- without interleaving any other command, so the check, the sequence
-- number, the push, the trim and the TTL refresh are one atomic step.
--
-- KEYS[1]  messages: LIST of the window's messages, oldest first (FORMAT.md)
-- KEYS[2]  meta: HASH with v (format version), seq (the last Seq given),
--          prompt (the pinned system prompt)
-- KEYS[3]  ids: ZSET of the idempotency tokens of the conversation's newest
--          appends, each scored by its message's Seq
-- ARGV[1]  the message: a JSON object without a "seq" member
-- ARGV[2]  its idempotency token: 22 characters of base64url (FORMAT.md)
-- ARGV[3]  the window: how many messages the list keeps (2 x MaxTurns)
-- ARGV[4]  the idle TTL, in milliseconds
-- ARGV[5]  the format version the client writes
-- ARGV[6]  the horizon: how many of the newest appends ids keeps (at
--          least the window)
--
-- Returns {1, seq} when it stored the message with Seq seq (the newest);
-- {0, stored} when a message with that token is in the window, stored
-- being that message as the list holds it; {2, seq} when the message with
-- that token was stored with Seq seq but has left the window since
-- (pushed out by newer messages, or cleared); or the error reply
-- "CHATRING_FORMAT ..." when the conversation is in another format.
--
-- The tokens are a key of their own, not tied to the list, so that an ID
-- keeps deduplicating after its message left the window: a retry that
-- comes late (the resilient wrapper's outbox replays after an outage) must
-- not store it again. Every operation on ids is O(log n) in the horizon
-- (O(n) on a listpack of at most 128 entries), so an Append's cost does not
-- grow with the window. Eight to ten Redis calls: HMGET, ZSCORE, RPUSH,
-- LTRIM (a full window), ZREMRANGEBYSCORE (past the horizon; DEL at Seq
-- 1), ZADD, HSET and three PEXPIREs.
local messages, meta, ids = KEYS[1], KEYS[2], KEYS[3]
local token, window, ttl, horizon = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[6])
if #token ~= 22 then
  return redis.error_reply('CHATRING_TOKEN idempotency token of ' .. #token .. ' bytes, want 22')
end

local state = redis.call('HMGET', meta, 'v', 'seq')
local version, last = state[1], tonumber(state[2]) or 0
if version and version ~= ARGV[5] then
  return redis.error_reply('CHATRING_FORMAT conversation in format ' .. version ..
    ', this client writes format ' .. ARGV[5])
end

-- Tokens are only those of this conversation's appends since it began at
-- Seq 1: the first Append after meta was lost (ids outlived it: an
-- eviction policy that evicts keys one at a time) removes the older ones
-- below.
-- Until then such a token is scored above meta's seq, or meta has no
-- seq: it names nothing stored now.
local found = tonumber(redis.call('ZSCORE', ids, token))
if found and found <= last then
  -- The list holds Seq last-n+1 .. last: the message is at found-(last-n+1).
  local index = found - (last - redis.call('LLEN', messages) + 1)
  local stored = index >= 0 and redis.call('LINDEX', messages, index)
  redis.call('PEXPIRE', messages, ttl)
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', ids, ttl)
  if stored then
    return {0, stored}
  end
  return {2, found}
end

local seq = last + 1
-- The message's JSON object with "seq" as its first member. RPUSH is the
-- script's first write: if Redis refuses it (OOM), nothing was written.
local n = redis.call('RPUSH', messages,
  '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[1], 2))
if seq == 1 and n > 1 then
  -- meta was lost while the list lived (an eviction policy that evicts
  -- keys one at a time): the older elements are an earlier life's, and
  -- the list must hold consecutive Seqs ending at this one.
  redis.call('LTRIM', messages, -1, -1)
elseif n > window then
  redis.call('LTRIM', messages, n - window, -1)
end
-- Trim before adding, so that ids never holds more than the horizon: a
-- sorted set of up to 128 entries stays a compact listpack. A
-- conversation that starts (again) at Seq 1 starts with no token: any
-- left in ids belong to its earlier life, whose Seqs it now reuses.
if seq == 1 then
  redis.call('DEL', ids)
elseif seq > horizon then
  redis.call('ZREMRANGEBYSCORE', ids, '-inf', seq - horizon)
end
redis.call('ZADD', ids, seq, token)
if version then
  redis.call('HSET', meta, 'seq', seq)
else
  redis.call('HSET', meta, 'v', ARGV[5], 'seq', seq)
end
redis.call('PEXPIRE', messages, ttl)
redis.call('PEXPIRE', meta, ttl)
redis.call('PEXPIRE', ids, ttl)
return {1, seq}
