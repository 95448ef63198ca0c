-- wrk script: every request appends one message to one of CONVERSATIONS
-- conversations (default 10000), alternating user and assistant, through
-- POST /conversations/{id}/messages. Each wrk thread starts at its own
-- offset, so threads spread over the conversations.
local conversations = tonumber(os.getenv("CONVERSATIONS") or "10000")
local threads = 0

function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end

local n = 0
local headers = { ["Content-Type"] = "application/json" }

function request()
  n = n + 1
  local i = n + (offset or 0)
  local role = (i % 2 == 0) and "assistant" or "user"
  local body = string.format('{"role":"%s","content":"load test message number %d"}', role, i)
  return wrk.format("POST", "/conversations/c" .. (i % conversations) .. "/messages", headers, body)
end
