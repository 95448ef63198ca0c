package chatring

// Tool exchanges.
//
// A tool exchange is an Assistant message with ToolCalls followed by the
// Tool messages that answer them, one per call (ToolCallID = the call's
// ID), in any order, with nothing else in between. The chat APIs accept
// nothing else: OpenAI rejects a request in which an assistant message
// with tool_calls is not followed by a tool message for each call, or a
// tool message does not answer a call of the assistant message before it;
// Anthropic requires every tool_use block to be answered by a tool_result
// block in the very next message.
//
// A history does not always hold such exchanges. The budget, eviction and
// Clear cut it at the front, possibly inside an exchange; and an
// application may append something else before all the results are in (a
// user who writes while a tool runs, a tool that never returns, a retried
// result). Window therefore
//
//   - drops every Tool message that does not answer a call of the
//     exchange it is in: a result whose call was cut off, a result that
//     follows something other than its call's exchange, a second result
//     for one call;
//   - drops every exchange that some of its calls' results are missing
//     from (the Assistant message and the results it has) unless it is the
//     exchange in flight, defined below;
//   - then cuts the window to the budget and drops the Assistant and Tool
//     messages at its front, as it always did, so that it never starts with
//     a reply whose question was cut off.
//
// The exchange in flight is the newest Assistant message of the window
// when it has ToolCalls and nothing but Tool messages follows it, together
// with the results among those, while some of its calls have no result
// yet: the application is still running the tools. Window returns it, so that a reader sees the
// conversation as it stands; a request built from it would be refused by
// the APIs, so the code that builds one calls CompleteExchanges.

// dropBrokenExchanges removes from msgs, in place and keeping their order,
// the Tool messages that answer no call of the exchange they are in and
// the exchanges that lack results, except the exchange in flight (see
// above). It clears the slots it vacates and returns the messages kept.
func dropBrokenExchanges(msgs []Message) []Message {
	// Nothing changes before the first message with a tool field, and a
	// conversation without tools has none: find it without copying.
	i := 0
	for i < len(msgs) && msgs[i].Role != Tool && len(msgs[i].ToolCalls) == 0 {
		i++
	}
	w := i // msgs[:w] are kept; w <= i throughout
	keep := func(j int) {
		if w != j {
			msgs[w] = msgs[j]
		}
		w++
	}
	for i < len(msgs) {
		switch m := &msgs[i]; {
		case m.Role == Tool: // not right after an exchange's call
			i++
		case len(m.ToolCalls) > 0: // an assistant message: only those have calls
			calls := m.ToolCalls
			end := i + 1
			for end < len(msgs) && msgs[end].Role == Tool {
				end++
			}
			a := w // the exchange is kept at msgs[a:w]
			keep(i)
			for j := i + 1; j < end; j++ {
				id := msgs[j].ToolCallID
				if callIndex(calls, id) >= 0 && !answered(msgs[a+1:w], id) {
					keep(j)
				}
			}
			if w-a-1 < len(calls) && end < len(msgs) {
				w = a // results missing, and the exchange is not in flight
			}
			i = end
		default:
			keep(i)
			i++
		}
	}
	clear(msgs[w:])
	return msgs[:w]
}

// callIndex returns the index of the call with ID id, or -1.
func callIndex(calls []ToolCall, id string) int {
	for i := range calls {
		if calls[i].ID == id {
			return i
		}
	}
	return -1
}

// answered reports whether one of results answers the call with ID id.
func answered(results []Message, id string) bool {
	for i := range results {
		if results[i].ToolCallID == id {
			return true
		}
	}
	return false
}

// CompleteExchanges returns win without its exchange in flight: when the
// newest messages of win are an Assistant message with ToolCalls and
// results for only some of them, it returns the prefix of win before that
// Assistant message; otherwise win itself. It never copies.
//
// Window (History.Window, Store.Window) returns the exchange in flight, if
// any, and no other incomplete exchange, so
//
//	win, err := h.Window(ctx, budget)
//	win = chatring.CompleteExchanges(win)
//
// is a window of complete exchanges only: every tool call with its result
// right after it, as the chat APIs require of a request. The messages
// removed were counted in Window's budget, so the result may be shorter
// than the budget allows.
func CompleteExchanges(win []Message) []Message {
	i := len(win)
	for i > 0 && win[i-1].Role == Tool {
		i--
	}
	if i == 0 || win[i-1].Role != Assistant || len(win[i-1].ToolCalls) == 0 {
		return win
	}
	calls := win[i-1].ToolCalls
	for c := range calls {
		if !answered(win[i:], calls[c].ID) {
			return win[:i-1]
		}
	}
	return win
}
