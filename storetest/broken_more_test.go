package storetest_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatring/chatring"
)

// More broken stores, each with one defect a plausible implementation
// might have.

// clearResetsSeq implements Clear as Delete plus restoring the prompt, so
// sequence numbers start again at 1 after a Clear.
type clearResetsSeq struct{ *chatring.MemoryStore }

func (s clearResetsSeq) Clear(ctx context.Context, conv string) error {
	w, err := s.Window(ctx, conv, 0)
	if err != nil {
		return err
	}
	if err := s.MemoryStore.Delete(ctx, conv); err != nil {
		return err
	}
	if len(w) > 0 && w[0].Seq == 0 {
		return s.SetSystemPrompt(ctx, conv, w[0].Content)
	}
	return nil
}

// deleteKeepsPrompt keeps prompts in a side table that Delete forgets to
// clear, as a store whose prompt key outlives the message key would: the
// deleted conversation's prompt comes back when the ID is used again.
type deleteKeepsPrompt struct {
	*chatring.MemoryStore
	mu      sync.Mutex
	prompts map[string]string
}

func (s *deleteKeepsPrompt) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	if err := s.MemoryStore.SetSystemPrompt(ctx, conv, prompt); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prompts[conv] = prompt
	return nil
}

func (s *deleteKeepsPrompt) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if err := chatring.ValidateMessage(m, s.Config()); err == nil && chatring.ValidateConversation(conv) == nil {
		if w, err := s.MemoryStore.Window(ctx, conv, 0); err == nil && len(w) == 0 {
			s.mu.Lock()
			p := s.prompts[conv]
			s.mu.Unlock()
			if p != "" {
				s.MemoryStore.SetSystemPrompt(ctx, conv, p) // "loads the conversation's meta"
			}
		}
	}
	return s.MemoryStore.Append(ctx, conv, m)
}

// readsLag returns every window without its newest message, as a reader
// of a replica one write behind would.
type readsLag struct{ *chatring.MemoryStore }

func (s readsLag) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	n := len(dst)
	out, err := s.MemoryStore.Messages(ctx, conv, dst)
	if err == nil && len(out) > n {
		out = out[:len(out)-1]
	}
	return out, err
}

// ttlSkips refreshes a conversation's idle TTL on every access but one,
// and expires conversations on its own clock: a store that forgot one path
// in its TTL refresh. skip is "Window" (Window does not refresh) or
// "Retry" (an Append whose ID is already in the window returns early,
// before the refresh, as a script might).
type ttlSkips struct {
	*chatring.MemoryStore
	skip string
	mu   sync.Mutex
	last map[string]time.Time
}

// access expires conv if it was idle (by this wrapper's reckoning) for
// the TTL, then refreshes it unless refresh is false.
func (s *ttlSkips) access(ctx context.Context, conv string, refresh bool) {
	s.mu.Lock()
	last, ok := s.last[conv]
	s.mu.Unlock()
	if ok && time.Since(last) > s.Config().IdleTTL {
		s.MemoryStore.Delete(ctx, conv)
		s.mu.Lock()
		delete(s.last, conv)
		s.mu.Unlock()
	}
	if refresh {
		s.mu.Lock()
		s.last[conv] = time.Now()
		s.mu.Unlock()
	}
}

func (s *ttlSkips) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	retry := false
	if m.ID != "" && chatring.ValidateConversation(conv) == nil {
		w, _ := s.MemoryStore.Messages(ctx, conv, nil)
		for _, old := range w {
			retry = retry || old.ID == m.ID
		}
	}
	s.access(ctx, conv, !(retry && s.skip == "Retry"))
	return s.MemoryStore.Append(ctx, conv, m)
}

func (s *ttlSkips) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	s.access(ctx, conv, true)
	return s.MemoryStore.Messages(ctx, conv, dst)
}

func (s *ttlSkips) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	s.access(ctx, conv, s.skip != "Window")
	return s.MemoryStore.Window(ctx, conv, maxTokens)
}

func (s *ttlSkips) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	s.access(ctx, conv, true)
	return s.MemoryStore.SetSystemPrompt(ctx, conv, prompt)
}

func (s *ttlSkips) Clear(ctx context.Context, conv string) error {
	s.access(ctx, conv, true)
	return s.MemoryStore.Clear(ctx, conv)
}

// deleteKeepsSeq continues a deleted conversation's sequence numbers when
// its ID is used again, as a store whose counter key outlives Delete would.
type deleteKeepsSeq struct {
	*chatring.MemoryStore
	mu     sync.Mutex
	offset map[string]uint64
}

func (s *deleteKeepsSeq) shift(conv string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset[conv]
}

func (s *deleteKeepsSeq) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	stored, err := s.MemoryStore.Append(ctx, conv, m)
	if err == nil {
		stored.Seq += s.shift(conv)
	}
	return stored, err
}

func (s *deleteKeepsSeq) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	n := len(dst)
	out, err := s.MemoryStore.Messages(ctx, conv, dst)
	for i := n; i < len(out); i++ {
		out[i].Seq += s.shift(conv)
	}
	return out, err
}

func (s *deleteKeepsSeq) Delete(ctx context.Context, conv string) error {
	w, err := s.Messages(ctx, conv, nil)
	if err != nil {
		return err
	}
	if len(w) > 0 {
		s.mu.Lock()
		s.offset[conv] = w[len(w)-1].Seq
		s.mu.Unlock()
	}
	return s.MemoryStore.Delete(ctx, conv)
}

// differentOnRetry returns, for a retried ID, the stored message's Seq
// with the retry's own fields.
type differentOnRetry struct{ *chatring.MemoryStore }

func (s differentOnRetry) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	stored, err := s.MemoryStore.Append(ctx, conv, m)
	if err == nil {
		stored.Role, stored.Content, stored.Name = m.Role, m.Content, m.Name
	}
	return stored, err
}

// idIndex keeps an index of the IDs appended to each conversation beside
// the window and answers a retry from it, but sends every append to the
// window as well: a retry of an ID whose message was evicted or cleared
// looks recognised (the first message comes back) and is stored again.
type idIndex struct {
	*chatring.MemoryStore
	mu  sync.Mutex
	ids map[string]map[string]chatring.Message
}

func (s *idIndex) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if m.ID == "" || chatring.ValidateMessage(m, s.Config()) != nil || chatring.ValidateConversation(conv) != nil {
		return s.MemoryStore.Append(ctx, conv, m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, err := s.MemoryStore.Append(ctx, conv, m)
	if old, ok := s.ids[conv][m.ID]; ok && err == nil {
		return old, nil
	}
	if err == nil {
		if s.ids[conv] == nil {
			s.ids[conv] = map[string]chatring.Message{}
		}
		s.ids[conv][m.ID] = stored
	}
	return stored, err
}

func (s *idIndex) Delete(ctx context.Context, conv string) error {
	s.mu.Lock()
	delete(s.ids, conv)
	s.mu.Unlock()
	return s.MemoryStore.Delete(ctx, conv)
}

// keepsIDs keeps the Seq of every ID appended to a conversation beside the
// window and recognises an ID whose message left the window by it, as a
// store that keeps IDs longer than its window may (the Redis store
// does), with one defect: blank answers with the Seq alone (no role,
// content or ID: not the message that was sent), outlivesDelete keeps the
// IDs across Delete, so that the first Append of the new conversation with
// an old ID is "recognised" and not stored.
type keepsIDs struct {
	*chatring.MemoryStore
	defect string // "blank" or "outlivesDelete"
	mu     sync.Mutex
	ids    map[string]map[string]uint64
}

func (s *keepsIDs) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if m.ID == "" || chatring.ValidateMessage(m, s.Config()) != nil || chatring.ValidateConversation(conv) != nil {
		return s.MemoryStore.Append(ctx, conv, m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.MemoryStore.Messages(ctx, conv, nil)
	if err != nil {
		return chatring.Message{}, err
	}
	if seq, ok := s.ids[conv][m.ID]; ok && (len(w) == 0 || seq < w[0].Seq) {
		if s.defect == "blank" {
			return chatring.Message{Seq: seq}, nil
		}
		m.Seq = seq
		return m, nil
	}
	stored, err := s.MemoryStore.Append(ctx, conv, m)
	if err == nil {
		if s.ids[conv] == nil {
			s.ids[conv] = map[string]uint64{}
		}
		s.ids[conv][m.ID] = stored.Seq
	}
	return stored, err
}

func (s *keepsIDs) Delete(ctx context.Context, conv string) error {
	if s.defect != "outlivesDelete" {
		s.mu.Lock()
		delete(s.ids, conv)
		s.mu.Unlock()
	}
	return s.MemoryStore.Delete(ctx, conv)
}

// idKeysCollide indexes IDs under conv+":"+id in one table, as a store
// that builds keys by concatenation might: conversation "a" with ID "b:c"
// and conversation "a:b" with ID "c" share an entry, and a retry in one
// returns the other's message.
type idKeysCollide struct {
	*chatring.MemoryStore
	mu  sync.Mutex
	ids map[string]chatring.Message
}

func (s *idKeysCollide) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if m.ID == "" || chatring.ValidateMessage(m, s.Config()) != nil || chatring.ValidateConversation(conv) != nil {
		return s.MemoryStore.Append(ctx, conv, m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := conv + ":" + m.ID
	if old, ok := s.ids[k]; ok {
		return old, nil
	}
	stored, err := s.MemoryStore.Append(ctx, conv, m)
	if err == nil {
		s.ids[k] = stored
	}
	return stored, err
}

func (s *idKeysCollide) Delete(ctx context.Context, conv string) error {
	s.mu.Lock()
	for k := range s.ids {
		if strings.HasPrefix(k, conv+":") {
			delete(s.ids, k)
		}
	}
	s.mu.Unlock()
	return s.MemoryStore.Delete(ctx, conv)
}

// closeDoesNotWait returns from Close at once: writes that passed its
// check still land afterwards (after a network-like delay).
type closeDoesNotWait struct {
	*chatring.MemoryStore
	closed atomic.Bool
}

func (s *closeDoesNotWait) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if s.closed.Load() {
		return chatring.Message{}, chatring.ErrClosed
	}
	time.Sleep(time.Millisecond) // the request's way to the server
	return s.MemoryStore.Append(ctx, conv, m)
}

func (s *closeDoesNotWait) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	if s.closed.Load() {
		return chatring.ErrClosed
	}
	return s.MemoryStore.SetSystemPrompt(ctx, conv, prompt)
}

func (s *closeDoesNotWait) Clear(ctx context.Context, conv string) error {
	if s.closed.Load() {
		return chatring.ErrClosed
	}
	return s.MemoryStore.Clear(ctx, conv)
}

func (s *closeDoesNotWait) Delete(ctx context.Context, conv string) error {
	if s.closed.Load() {
		return chatring.ErrClosed
	}
	return s.MemoryStore.Delete(ctx, conv)
}

func (s *closeDoesNotWait) Close(ctx context.Context) error {
	s.closed.Store(true)
	return nil
}

// racyIDs checks the window for an ID and appends in two steps.
type racyIDs struct{ *chatring.MemoryStore }

func (s racyIDs) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if m.ID != "" && chatring.ValidateConversation(conv) == nil {
		w, _ := s.MemoryStore.Messages(ctx, conv, nil)
		for _, old := range w {
			if old.ID == m.ID {
				return old, nil
			}
		}
		runtime.Gosched()
		id := m.ID
		m.ID = ""
		stored, err := s.MemoryStore.Append(ctx, conv, m)
		stored.ID = id
		return stored, err
	}
	return s.MemoryStore.Append(ctx, conv, m)
}

func init() {
	add := func(name string, wrap func(*chatring.MemoryStore) chatring.Store, cases ...string) {
		brokenStores[name] = struct {
			wrap  func(*chatring.MemoryStore) chatring.Store
			cases []string
		}{wrap, cases}
	}
	add("clearResetsSeq", func(s *chatring.MemoryStore) chatring.Store { return clearResetsSeq{s} }, "Clear")
	add("deleteKeepsPrompt", func(s *chatring.MemoryStore) chatring.Store {
		return &deleteKeepsPrompt{MemoryStore: s, prompts: map[string]string{}}
	}, "Delete")
	add("readsLag", func(s *chatring.MemoryStore) chatring.Store { return readsLag{s} }, "Sequence")
	for _, skip := range []string{"Window", "Retry"} {
		add("ttlSkips"+skip, func(s *chatring.MemoryStore) chatring.Store {
			return &ttlSkips{MemoryStore: s, skip: skip, last: map[string]time.Time{}}
		}, "IdleTTL")
	}
	add("deleteKeepsSeq", func(s *chatring.MemoryStore) chatring.Store {
		return &deleteKeepsSeq{MemoryStore: s, offset: map[string]uint64{}}
	}, "Delete")
	add("differentOnRetry", func(s *chatring.MemoryStore) chatring.Store { return differentOnRetry{s} }, "Idempotency")
	add("idIndex", func(s *chatring.MemoryStore) chatring.Store {
		return &idIndex{MemoryStore: s, ids: map[string]map[string]chatring.Message{}}
	}, "Idempotency")
	for _, c := range [][2]string{{"blank", "Idempotency"}, {"outlivesDelete", "Delete"}} {
		add("keepsIDs/"+c[0], func(s *chatring.MemoryStore) chatring.Store {
			return &keepsIDs{MemoryStore: s, defect: c[0], ids: map[string]map[string]uint64{}}
		}, c[1])
	}
	add("idKeysCollide", func(s *chatring.MemoryStore) chatring.Store {
		return &idKeysCollide{MemoryStore: s, ids: map[string]chatring.Message{}}
	}, "Idempotency")
	add("closeDoesNotWait", func(s *chatring.MemoryStore) chatring.Store { return &closeDoesNotWait{MemoryStore: s} }, "CloseRacesWrites")
	add("racyIDs", func(s *chatring.MemoryStore) chatring.Store { return racyIDs{s} }, "ConcurrentIdempotency")
}
