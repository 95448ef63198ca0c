package chattest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server is a loopback API endpoint for the adapters' tests: it records
// the body of each request to its path and answers the n-th (from 0) with
// reply(n) as JSON. Other paths get 404. It is closed when the test ends.
type Server struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

// NewServer starts a Server answering path.
func NewServer(t testing.TB, path string, reply func(n int) string) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		n := len(s.bodies)
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reply(n))
	}))
	t.Cleanup(s.Close)
	return s
}

// Last returns the body of the latest request.
func (s *Server) Last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[len(s.bodies)-1]
}
