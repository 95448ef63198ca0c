package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/chatring/chatring"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// api is the service's HTTP handler: the conversation routes on a
// chatring.Store, /metrics, /healthz and /readyz.
type api struct {
	store   chatring.Store
	log     *slog.Logger
	mux     *http.ServeMux
	maxBody int64 // request body limit, bytes

	// draining is set when shutdown begins; /readyz fails from then on.
	draining atomic.Bool

	// unavailableLog bounds the logging of 503 answers, which come all at
	// once when the store is down.
	unavailableLog logSampler

	requests *prometheus.CounterVec   // by route and code
	duration *prometheus.HistogramVec // by route
}

// readiness is implemented by stores that can tell whether they can serve
// now (a store wrapping a remote service, whose circuit breaker is open,
// say). Ready must return within a bound of its own, whatever ctx (the
// probe's request) allows. Its error goes to the log; /readyz answers
// with the reason of a *notReady in it, or a message of its own. A store
// that does not implement it is ready until shutdown.
type readiness interface {
	Ready(ctx context.Context) error
}

// bodyLimit is the request body limit for messages of at most
// maxMessageBytes bytes: room for a maximal message whose every byte a
// client escaped as \u00XX (6 bytes), plus 64 KiB for the other fields.
// Content over maxMessageBytes that fits in the limit reaches the store,
// which rejects it with ErrMessageTooLarge; both are 413.
func bodyLimit(maxMessageBytes int) int64 {
	return 6*int64(maxMessageBytes) + 64<<10
}

// newAPI returns the handler for store, whose messages are at most
// maxMessageBytes long. It registers its metrics with reg, which /metrics
// serves.
func newAPI(store chatring.Store, maxMessageBytes int, log *slog.Logger, reg *prometheus.Registry) *api {
	a := &api{
		store:   store,
		log:     log,
		mux:     http.NewServeMux(),
		maxBody: bodyLimit(maxMessageBytes),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatservice_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatservice_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"route"}),
	}
	reg.MustRegister(a.requests, a.duration)
	const ok, created, noContent = http.StatusOK, http.StatusCreated, http.StatusNoContent
	for _, rt := range []struct {
		pattern     string
		h           http.HandlerFunc
		success     int  // the 2xx it answers
		unavailable bool // it may answer 503
	}{
		{"POST /conversations/{id}/messages", a.appendMessage, created, true},
		{"GET /conversations/{id}/messages", a.messages, ok, true},
		{"DELETE /conversations/{id}/messages", a.clear, noContent, true},
		{"GET /conversations/{id}/window", a.window, ok, true},
		{"PUT /conversations/{id}/system-prompt", a.setSystemPrompt, noContent, true},
		{"DELETE /conversations/{id}/system-prompt", a.removeSystemPrompt, noContent, true},
		{"DELETE /conversations/{id}", a.deleteConversation, noContent, true},
		{"GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP, ok, false},
		{"GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, ok, status{"ok"}) }, ok, false},
		{"GET /readyz", a.ready, ok, true},
	} {
		a.mux.HandleFunc(rt.pattern, rt.h)
		// The series the alerts read exist from the start, at 0, so that
		// rate() sees the first interval of a route's first 503 or 500:
		// a series that appears with its first increment has no earlier
		// sample to take a rate from. Two or three counters and one
		// histogram per route, whatever the traffic.
		a.requests.WithLabelValues(rt.pattern, strconv.Itoa(rt.success)).Add(0)
		a.requests.WithLabelValues(rt.pattern, strconv.Itoa(http.StatusInternalServerError)).Add(0)
		if rt.unavailable {
			a.requests.WithLabelValues(rt.pattern, strconv.Itoa(http.StatusServiceUnavailable)).Add(0)
		}
		a.duration.WithLabelValues(rt.pattern)
	}
	return a
}

// ServeHTTP routes r, counts and times it, and turns the router's own 404
// and 405 answers into JSON errors. It recovers a handler's panic (see
// recovered) so as to count it: net/http would recover it too, but after
// the count.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, r: r}
	defer func() {
		cut := false
		if p := recover(); p != nil {
			cut = a.recovered(rec, r, p)
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern // set by the mux; one of the patterns above, or ""
		if route == "" {
			route = "unmatched"
		}
		a.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		a.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if cut {
			panic(http.ErrAbortHandler) // net/http closes the connection, and logs nothing
		}
	}()
	a.mux.ServeHTTP(rec, r)
}

// recovered handles the panic p of r's handler, a bug: it logs it at
// Error with the stack and counts the request as a 500 (rec.status). If
// nothing was written yet, it answers with a JSON 500; otherwise it
// returns true: the connection must be cut, so that the client sees a
// broken answer, not a short one that looks whole. It logs p's value only
// if it is a runtime error, as another may quote message content (the
// stack shows arguments as machine words, never a string's bytes). A
// panic with http.ErrAbortHandler is a handler cutting its connection on
// purpose: not logged, and cut.
func (a *api) recovered(rec *recorder, r *http.Request, p any) (cut bool) {
	if p == http.ErrAbortHandler {
		rec.status = http.StatusInternalServerError
		return true
	}
	value := slog.String("panic", fmt.Sprintf("%T", p))
	if re, ok := p.(runtime.Error); ok {
		value = slog.String("panic", re.Error())
	}
	a.log.LogAttrs(r.Context(), slog.LevelError, "chatservice: handler panicked",
		slog.String("route", r.Pattern), value, slog.String("stack", string(debug.Stack())))
	if rec.status != 0 {
		rec.status = http.StatusInternalServerError
		return true
	}
	clear(rec.Header()) // what the handler set for the answer it did not give
	writeError(rec, http.StatusInternalServerError, "internal", "internal error")
	return false
}

// recorder records the status code written through it. When the mux
// answers a request that matched no route (r.Pattern is empty) with 404
// or 405, it writes a JSON error instead of the mux's text.
type recorder struct {
	http.ResponseWriter
	r       *http.Request
	status  int
	swallow bool // the mux's text body is dropped
}

func (w *recorder) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if w.r.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.swallow = true
		w.Header().Del("X-Content-Type-Options")
		if code == http.StatusNotFound {
			writeError(w.ResponseWriter, code, "not_found", "no such route: "+w.r.URL.Path)
		} else {
			writeError(w.ResponseWriter, code, "method_not_allowed",
				w.r.Method+" is not allowed here; allowed: "+w.Header().Get("Allow"))
		}
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// messageRequest is the body of POST /conversations/{id}/messages.
type messageRequest struct {
	Role    chatring.Role `json:"role"`
	Content string        `json:"content"`
	Name    string        `json:"name,omitempty"`
	// ID is the message's idempotency key; the Idempotency-Key header
	// sets it too.
	ID string `json:"id,omitempty"`
	// ToolCalls (an assistant's) and ToolCallID (a tool result's) carry
	// tool calls, as in chatring.Message.
	ToolCalls  []chatring.ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string              `json:"tool_call_id,omitempty"`
}

// promptRequest is the body of PUT /conversations/{id}/system-prompt.
type promptRequest struct {
	Content string `json:"content"`
}

// messagesResponse is the body of the GET routes.
type messagesResponse struct {
	Messages []chatring.Message `json:"messages"`
}

type status struct {
	Status string `json:"status"`
}

// errorResponse is the body of every error answer.
type errorResponse struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	// Code is a stable, machine-readable name, e.g. "invalid_content".
	Code string `json:"code"`
	// Message says what was wrong; it never quotes message content.
	Message string `json:"message"`
}

func (a *api) appendMessage(w http.ResponseWriter, r *http.Request) {
	var req messageRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.ID == "" {
		req.ID = r.Header.Get("Idempotency-Key")
	}
	m, err := a.store.Append(r.Context(), r.PathValue("id"),
		chatring.Message{Role: req.Role, Content: req.Content, Name: req.Name, ID: req.ID,
			ToolCalls: req.ToolCalls, ToolCallID: req.ToolCallID})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

func (a *api) messages(w http.ResponseWriter, r *http.Request) {
	msgs, err := a.store.Messages(r.Context(), r.PathValue("id"), nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messagesResponse{nonNil(msgs)})
}

// window answers with what to send to a model: the pinned system prompt
// and the newest messages within ?max_tokens (default: the config's
// max_tokens).
func (a *api) window(w http.ResponseWriter, r *http.Request) {
	budget := 0
	if s := r.URL.Query().Get("max_tokens"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "max_tokens: not an integer")
			return
		}
		budget = n
	}
	msgs, err := a.store.Window(r.Context(), r.PathValue("id"), budget)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messagesResponse{nonNil(msgs)})
}

func (a *api) setSystemPrompt(w http.ResponseWriter, r *http.Request) {
	var req promptRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.Content == "" {
		// SetSystemPrompt would remove the prompt; that is DELETE's job.
		writeError(w, http.StatusBadRequest, "empty_content", "content: empty; DELETE the system prompt to remove it")
		return
	}
	a.noContent(w, r, a.store.SetSystemPrompt(r.Context(), r.PathValue("id"), req.Content))
}

func (a *api) removeSystemPrompt(w http.ResponseWriter, r *http.Request) {
	a.noContent(w, r, a.store.SetSystemPrompt(r.Context(), r.PathValue("id"), ""))
}

func (a *api) clear(w http.ResponseWriter, r *http.Request) {
	a.noContent(w, r, a.store.Clear(r.Context(), r.PathValue("id")))
}

func (a *api) deleteConversation(w http.ResponseWriter, r *http.Request) {
	a.noContent(w, r, a.store.Delete(r.Context(), r.PathValue("id")))
}

// ready answers 200 while the service can serve: not shutting down, and
// the store ready if it can tell. A store that is not ready is answered
// with its notReady reason, or a message of the service's; the error
// itself, whose text may name internal addresses, goes to the log.
func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	if a.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "shutting_down", "the service is shutting down")
		return
	}
	if rs, ok := a.store.(readiness); ok {
		if err := rs.Ready(r.Context()); err != nil {
			if a.clientClosed(w, r, err) {
				return
			}
			a.log.LogAttrs(r.Context(), slog.LevelWarn, "chatservice: not ready", slog.Any("error", err))
			msg := "the store cannot serve"
			if nr, ok := errors.AsType[*notReady](err); ok {
				msg = nr.reason
			}
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "unavailable", msg)
			return
		}
	}
	writeJSON(w, http.StatusOK, status{"ready"})
}

// notReady is an error of a store's Ready: reason says why in the
// service's words, and is what /readyz answers; err, if not nil, is the
// detail (a Redis client's error, with the server's address), which only
// the log shows.
type notReady struct {
	reason string
	err    error
}

func (e *notReady) Error() string {
	if e.err == nil {
		return e.reason
	}
	return e.reason + ": " + e.err.Error()
}

func (e *notReady) Unwrap() error { return e.err }

// decode reads r's JSON body into v, strictly: at most a.maxBody bytes,
// valid UTF-8, no unknown fields, nothing but white space after the
// object. It answers the request itself and returns false when the body
// is not acceptable.
func (a *api) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err == nil && !utf8.Valid(body) {
		// encoding/json would replace each invalid byte with U+FFFD and
		// store content the client never sent.
		err = errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err == nil {
		err = dec.Decode(v)
	}
	if err == nil {
		// Only white space may follow (dec.More would accept a stray
		// '}' or ']').
		switch err = dec.Decode(new(json.RawMessage)); {
		case err == io.EOF:
			return true
		case err == nil:
			err = errors.New("data after the JSON object")
		}
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeError(w, http.StatusRequestEntityTooLarge, "request_too_large",
			fmt.Sprintf("request body over %d bytes", a.maxBody))
		return false
	}
	writeError(w, http.StatusBadRequest, "invalid_request", "body: "+err.Error())
	return false
}

func (a *api) noContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fail answers with the status and code err maps to (see errorStatus),
// and logs the errors that are the service's, not the client's, with
// their detail: a 5xx answer's message is the service's own, as err's
// text may name internal addresses (a Redis client's error does).
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	if a.clientClosed(w, r, err) {
		return
	}
	if errors.Is(err, context.Canceled) {
		if cause := context.Cause(r.Context()); cause != nil {
			err = fmt.Errorf("%w, by %w", err, cause) // the service's: errCutByShutdown
		}
	}
	code, name, msg := errorStatus(err)
	switch code { // chatring's errors, which these log, never quote message content
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
		if ok, left := a.unavailableLog.allow(time.Now()); ok {
			a.log.LogAttrs(r.Context(), slog.LevelWarn, "chatservice: store unavailable",
				slog.String("route", r.Pattern), slog.String("code", name), slog.Any("error", err),
				slog.Uint64("not_logged_before", left))
		}
	case http.StatusInternalServerError:
		a.log.LogAttrs(r.Context(), slog.LevelError, "chatservice: request failed",
			slog.String("route", r.Pattern), slog.Any("error", err))
	default:
		msg = err.Error() // the client's input: what was wrong with it
	}
	writeError(w, code, name, msg)
}

// statusClientClosedRequest is nginx's 499 "client closed request": the
// code under which the service counts a request its client gave up.
const statusClientClosedRequest = 499

// clientClosed reports whether err is the end of r's context because its
// client went away, and if so answers 499 (which nobody reads, but which
// the metrics count). net/http cancels a request's context, without a
// cause, when its connection closes; the service cancels with a cause
// (newServer), and a store's own deadline is context.DeadlineExceeded or
// ErrUnavailable, which stay 503.
func (a *api) clientClosed(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, context.Canceled) || context.Cause(r.Context()) != context.Canceled {
		return false
	}
	writeError(w, statusClientClosedRequest, "client_closed_request", "the client closed the request")
	return true
}

// logSampler lets one log line a second through. The zero value is
// ready; it is safe for concurrent use.
type logSampler struct {
	next atomic.Int64  // Unix nanoseconds before which lines are left out
	left atomic.Uint64 // lines left out since the last let through
}

// allow reports whether a line at now is logged, and if so how many
// were left out since the previous one.
func (s *logSampler) allow(now time.Time) (ok bool, left uint64) {
	next := s.next.Load()
	if now.UnixNano() < next || !s.next.CompareAndSwap(next, now.Add(time.Second).UnixNano()) {
		s.left.Add(1)
		return false, 0
	}
	return true, s.left.Swap(0)
}

// errorStatus maps an error of a Store to an HTTP status, an error code
// and, for a 5xx, the message to answer with (a client error's is err's
// text). Validation errors are the client's (400, or 413 for size) and are
// permanent: the same request fails the same way. ErrUnavailable is 503,
// with Retry-After: the same request, with the same message ID, may be
// sent again. ErrClosed is 503 too: the service is shutting down and
// another replica can take the request.
func errorStatus(err error) (code int, name, msg string) {
	for _, e := range []struct {
		err  error
		code int
		name string
		msg  string // for a 5xx
	}{
		{chatring.ErrMessageTooLarge, http.StatusRequestEntityTooLarge, "message_too_large", ""},
		{chatring.ErrInvalidRole, http.StatusBadRequest, "invalid_role", ""},
		{chatring.ErrEmptyContent, http.StatusBadRequest, "empty_content", ""},
		{chatring.ErrInvalidContent, http.StatusBadRequest, "invalid_content", ""},
		{chatring.ErrInvalidToolCall, http.StatusBadRequest, "invalid_tool_call", ""},
		{chatring.ErrInvalidConversation, http.StatusBadRequest, "invalid_conversation", ""},
		{chatring.ErrBudgetTooSmall, http.StatusBadRequest, "budget_too_small", ""},
		{chatring.ErrUnavailable, http.StatusServiceUnavailable, "unavailable",
			"the store is unavailable; retry (an append with the same message ID)"},
		{chatring.ErrClosed, http.StatusServiceUnavailable, "shutting_down", "the service is shutting down"},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "the store did not answer in time"},
		// Canceled by the service (a client's cancel is 499, see
		// clientClosed).
		{context.Canceled, http.StatusServiceUnavailable, "canceled", "the request was canceled"},
	} {
		if errors.Is(err, e.err) {
			return e.code, e.name, e.msg
		}
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) // an error here is the connection's: nothing to answer
}

func writeError(w http.ResponseWriter, code int, name, msg string) {
	writeJSON(w, code, errorResponse{errorBody{Code: name, Message: msg}})
}

// nonNil returns msgs, or an empty slice for nil, so that JSON has [].
func nonNil(msgs []chatring.Message) []chatring.Message {
	if msgs == nil {
		return []chatring.Message{}
	}
	return msgs
}
