package redistest

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server. It forwards
// bytes both ways unchanged until told, with DropReplyTo, to lose a reply:
// then the next request that contains a marker reaches the server, the
// server runs it and answers, and the proxy throws the answer away and
// closes that client connection — the ambiguous failure of a network that
// breaks after the request was sent. A client sees a connection reset or
// EOF; it cannot know whether the command ran.
//
// With WithDelay it also holds every chunk of bytes for a while before
// forwarding it, each way, so that a loopback server answers with the
// round-trip time of a network.
//
// A Proxy is safe for concurrent use.
type Proxy struct {
	// Addr is where clients connect.
	Addr string

	target string
	ln     net.Listener
	delay  time.Duration // one way; 0 forwards at once

	mu     sync.Mutex
	marker []byte // armed by DropReplyTo; nil when disarmed
	conns  map[net.Conn]struct{}
	closed bool

	dropped atomic.Int64
	wg      sync.WaitGroup
}

// ProxyOption configures a Proxy.
type ProxyOption func(*Proxy)

// WithDelay makes the proxy forward each chunk of bytes it reads, in
// either direction, oneWay after it read it (so a request and its reply
// take at least 2 × oneWay more than without the proxy: the round-trip
// time of a network). Chunks keep their order, and several can be in
// flight on one connection, as on a network: a pipeline of commands pays
// the delay once. Go's timers make the delay a little longer, not
// shorter.
func WithDelay(oneWay time.Duration) ProxyOption {
	return func(p *Proxy) { p.delay = oneWay }
}

// NewProxy starts a proxy to target (host:port).
func NewProxy(target string, opts ...ProxyOption) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redistest: proxy: %w", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	for _, o := range opts {
		o(p)
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// StartProxy starts a proxy to target for tb and closes it when tb ends.
func StartProxy(tb testing.TB, target string, opts ...ProxyOption) *Proxy {
	tb.Helper()
	p, err := NewProxy(target, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// DropReplyTo arms the proxy: the next request whose bytes contain marker
// is forwarded, and the reply to it is dropped and its connection closed.
// One reply is dropped per call.
func (p *Proxy) DropReplyTo(marker []byte) {
	p.mu.Lock()
	p.marker = bytes.Clone(marker)
	p.mu.Unlock()
}

// Dropped returns how many replies the proxy has dropped.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			return
		}
		var drop atomic.Bool // this connection's next reply is to be lost
		p.wg.Add(2)
		go func() { // requests
			defer p.wg.Done()
			p.pipe(server, client, func(b []byte) {
				p.mu.Lock()
				if p.marker != nil && bytes.Contains(b, p.marker) {
					p.marker = nil
					drop.Store(true)
				}
				p.mu.Unlock()
			})
			server.Close()
		}()
		go func() { // replies
			defer p.wg.Done()
			p.pipe(client, server, func([]byte) {
				if drop.Load() {
					p.dropped.Add(1)
					client.Close() // before the reply is written: it is lost
					server.Close()
				}
			})
			client.Close()
			p.untrack(client, server)
		}()
	}
}

// pipe copies from src to dst, calling inspect on each chunk read before
// writing it (after the proxy's delay), until either side fails or is
// closed.
func (p *Proxy) pipe(dst, src net.Conn, inspect func([]byte)) {
	write := func(b []byte) bool {
		_, err := dst.Write(b)
		return err == nil
	}
	if p.delay > 0 {
		send, stop := p.delayed(dst)
		defer stop()
		write = send
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			inspect(buf[:n])
			if !write(buf[:n]) {
				return
			}
		}
		if err != nil { // EOF, a reset or a closed connection
			return
		}
	}
}

// delayed returns a function that writes a copy of a chunk to dst
// p.delay after it is called, in order, and reports false once a write
// has failed; and a function that stops the writer after the chunks
// queued so far.
func (p *Proxy) delayed(dst net.Conn) (send func([]byte) bool, stop func()) {
	type chunk struct {
		due time.Time
		b   []byte
	}
	queue := make(chan chunk, 1024)
	var failed atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range queue {
			if failed.Load() {
				continue
			}
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.b); err != nil {
				failed.Store(true)
			}
		}
	}()
	send = func(b []byte) bool {
		queue <- chunk{due: time.Now().Add(p.delay), b: bytes.Clone(b)}
		return !failed.Load()
	}
	stop = func() {
		close(queue)
		<-done
	}
	return send, stop
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}
