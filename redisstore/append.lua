-- append.lua: appends one message to a conversation, or returns the message
-- already stored under the same idempotency token. Redis runs a script
-- without interleaving any other command, so the check, the sequence
-- number, the push, the trim and the TTL refresh are one atomic step.
--
-- KEYS[1]  messages: LIST of the window's messages, oldest first (FORMAT.md)
-- KEYS[2]  meta: HASH with v (format version), seq (the last Seq given),
--          ids (the idempotency tokens of the list's newest messages, in
--          list order, 22 bytes each), prompt (the pinned system prompt)
-- ARGV[1]  the message: a JSON object without a "seq" member
-- ARGV[2]  its idempotency token: 22 characters of base64url (FORMAT.md)
-- ARGV[3]  the window: how many messages the list keeps (2 x MaxTurns)
-- ARGV[4]  the idle TTL, in milliseconds
-- ARGV[5]  the format version the client writes
--
-- Returns {1, seq} when it stored the message with Seq seq (the newest);
-- {0, stored} when a message with that token is in the window, stored
-- being that message as the list holds it; or the error reply
-- "CHATRING_FORMAT ..." when the conversation is in another format.
--
-- It makes six Redis calls (HMGET, RPUSH, LTRIM, HSET and two PEXPIREs):
-- on Redis 7.0 each costs the server about 1.5 us on top of the script's
-- own ~6 us, which is why the tokens are a string in meta, not a key of
-- their own (one call fewer to read, to write, to trim and to expire).
-- The price is a copy of ids per append, 22 bytes per message of the
-- window: 440 bytes at the default window of 20, 440 KB at the largest
-- (MaxTurns 10 000), where a sorted set would have cost O(log n).
local messages, meta = KEYS[1], KEYS[2]
local token, window, ttl = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local width = 22
if #token ~= width then
  return redis.error_reply('CHATRING_TOKEN idempotency token of ' .. #token .. ' bytes, want ' .. width)
end

local state = redis.call('HMGET', meta, 'v', 'seq', 'ids')
local version, ids = state[1], state[3] or ''
if version and version ~= ARGV[5] then
  return redis.error_reply('CHATRING_FORMAT conversation in format ' .. version ..
    ', this client writes format ' .. ARGV[5])
end

-- ids is aligned to the end of the list: its last token is the newest
-- message's. A match must start at a token boundary.
local at = string.find(ids, token, 1, true)
while at and (at - 1) % width ~= 0 do
  at = string.find(ids, token, at + 1, true)
end
if at then
  local stored = redis.call('LINDEX', messages, (at - 1 - #ids) / width)
  if stored then
    redis.call('PEXPIRE', messages, ttl)
    redis.call('PEXPIRE', meta, ttl)
    return {0, stored}
  end
end

local seq = (tonumber(state[2]) or 0) + 1
-- The message's JSON object with "seq" as its first member.
local n = redis.call('RPUSH', messages,
  '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[1], 2))
if n > window then
  redis.call('LTRIM', messages, n - window, -1)
  n = window
end
-- Keep one token per message of the list (fewer if ids was lost).
ids = string.sub(ids .. token, -n * width)
if version then
  redis.call('HSET', meta, 'seq', seq, 'ids', ids)
else
  redis.call('HSET', meta, 'v', ARGV[5], 'seq', seq, 'ids', ids)
end
redis.call('PEXPIRE', messages, ttl)
redis.call('PEXPIRE', meta, ttl)
return {1, seq}
