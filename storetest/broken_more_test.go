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

// windowNotAccess refreshes a conversation's idle TTL on every call but
// Window, and expires it on its own clock: a store that forgot one read
// path in its TTL refresh.
type windowNotAccess struct {
	*chatring.MemoryStore
	mu   sync.Mutex
	last map[string]time.Time
}

func (s *windowNotAccess) touch(conv string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[conv] = time.Now()
}

// expire deletes conv if it was idle (by this wrapper's reckoning) for
// the TTL.
func (s *windowNotAccess) expire(ctx context.Context, conv string) {
	s.mu.Lock()
	last, ok := s.last[conv]
	s.mu.Unlock()
	if ok && time.Since(last) > s.Config().IdleTTL {
		s.MemoryStore.Delete(ctx, conv)
		s.mu.Lock()
		delete(s.last, conv)
		s.mu.Unlock()
	}
}

func (s *windowNotAccess) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	s.expire(ctx, conv)
	s.touch(conv)
	return s.MemoryStore.Append(ctx, conv, m)
}

func (s *windowNotAccess) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	s.expire(ctx, conv)
	s.touch(conv)
	return s.MemoryStore.Messages(ctx, conv, dst)
}

func (s *windowNotAccess) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	s.expire(ctx, conv)
	return s.MemoryStore.Window(ctx, conv, maxTokens)
}

func (s *windowNotAccess) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	s.expire(ctx, conv)
	s.touch(conv)
	return s.MemoryStore.SetSystemPrompt(ctx, conv, prompt)
}

func (s *windowNotAccess) Clear(ctx context.Context, conv string) error {
	s.expire(ctx, conv)
	s.touch(conv)
	return s.MemoryStore.Clear(ctx, conv)
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
// the window, for fast lookups, and trims it only on Delete: an ID keeps
// deduplicating after its message was evicted or cleared.
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
	if old, ok := s.ids[conv][m.ID]; ok {
		return old, nil
	}
	stored, err := s.MemoryStore.Append(ctx, conv, m)
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
	add("windowNotAccess", func(s *chatring.MemoryStore) chatring.Store {
		return &windowNotAccess{MemoryStore: s, last: map[string]time.Time{}}
	}, "IdleTTL")
	add("differentOnRetry", func(s *chatring.MemoryStore) chatring.Store { return differentOnRetry{s} }, "Idempotency")
	add("idIndex", func(s *chatring.MemoryStore) chatring.Store {
		return &idIndex{MemoryStore: s, ids: map[string]map[string]chatring.Message{}}
	}, "Idempotency")
	add("idKeysCollide", func(s *chatring.MemoryStore) chatring.Store {
		return &idKeysCollide{MemoryStore: s, ids: map[string]chatring.Message{}}
	}, "Idempotency")
	add("closeDoesNotWait", func(s *chatring.MemoryStore) chatring.Store { return &closeDoesNotWait{MemoryStore: s} }, "CloseRacesWrites")
	add("racyIDs", func(s *chatring.MemoryStore) chatring.Store { return racyIDs{s} }, "ConcurrentIdempotency")
}
