package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS is a DNS server on 127.0.0.1 answering A and AAAA questions for
// names the test controls, so no test query leaves the machine.
type fakeDNS struct {
	pc      net.PacketConn
	records map[string][]netip.Addr // fully qualified, lower case
	queries atomic.Int64
}

// startDNS serves records (keys without the trailing dot) until the test ends.
func startDNS(t *testing.T, records map[string][]string) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for fake DNS: %v", err)
	}
	d := &fakeDNS{pc: pc, records: map[string][]netip.Addr{}}
	for name, addrs := range records {
		for _, a := range addrs {
			d.records[strings.ToLower(name)+"."] = append(d.records[strings.ToLower(name)+"."], netip.MustParseAddr(a))
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); d.serve() }()
	t.Cleanup(func() { pc.Close(); <-done })
	return d
}

// serve answers queries until the socket is closed.
func (d *fakeDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if msg, err := d.answer(buf[:n]); err == nil {
			d.pc.WriteTo(msg, from)
		}
	}
}

// answer builds the response to one query.
func (d *fakeDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil, fmt.Errorf("parse DNS header: %w", err)
	}
	q, err := p.Question()
	if err != nil {
		return nil, fmt.Errorf("parse DNS question: %w", err)
	}
	d.queries.Add(1)
	addrs, known := d.records[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RecursionDesired: hdr.RecursionDesired, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := addAnswer(&b, q, a); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// addAnswer adds a as an answer to q when the record types match.
func addAnswer(b *dnsmessage.Builder, q dnsmessage.Question, a netip.Addr) error {
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	switch {
	case q.Type == dnsmessage.TypeA && a.Is4():
		rh.Type = dnsmessage.TypeA
		return b.AResource(rh, dnsmessage.AResource{A: a.As4()})
	case q.Type == dnsmessage.TypeAAAA && a.Is6():
		rh.Type = dnsmessage.TypeAAAA
		return b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
	}
	return nil
}

// resolver returns a resolver that asks only this server (names in
// /etc/hosts, such as localhost, are still answered from there).
func (d *fakeDNS) resolver() *net.Resolver {
	addr := d.pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "udp", addr)
		},
	}
}

// dialLog records every address the transport was asked to dial, before
// the guard's Control function runs.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
}

// list returns the recorded dial addresses.
func (l *dialLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.addrs...)
}

// newTestClient returns New(cfg) resolving through dns and recording dials.
func newTestClient(t *testing.T, cfg Config, dns *fakeDNS) (*Client, *dialLog) {
	t.Helper()
	cfg.Resolver = dns.resolver()
	c := New(cfg)
	log := &dialLog{}
	dial := c.transport.DialContext
	c.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		log.mu.Lock()
		log.addrs = append(log.addrs, addr)
		log.mu.Unlock()
		return dial(ctx, network, addr)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c, log
}

// testServer is an HTTP server on a chosen local address that counts the
// TCP connections it accepted and the requests it served.
type testServer struct {
	*httptest.Server
	conns atomic.Int64
	hits  atomic.Int64
	port  int
}

// startServer starts a testServer listening on addr ("127.0.0.1:0",
// "[::1]:0", ...). It fails the test when addr cannot be listened on.
func startServer(t *testing.T, addr string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	s := &testServer{}
	s.Server = httptest.NewUnstartedServer(s.handler())
	s.Listener.Close()
	s.Listener = ln
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	s.port = ln.Addr().(*net.TCPAddr).Port
	return s
}

// handler serves the test endpoints:
//
//	/ok                 200 "ok"
//	/ua                 200 with the request's User-Agent
//	/redirect?to=URL    302 to URL
//	/loop               302 to itself
//	/chain/N            302 to /chain/N-1; /chain/0 is 200 "done"
//	/big?n=N[&chunked]  N bytes, with Content-Length unless chunked
//	/slow               waits for the client to give up (at most 5s)
func (s *testServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/ua", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.UserAgent()) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/chain/{n}", chainHandler)
	mux.HandleFunc("/big", bigHandler)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		mux.ServeHTTP(w, r)
	})
}

// chainHandler redirects /chain/N to /chain/N-1 and answers /chain/0.
func chainHandler(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		http.Error(w, "bad n", http.StatusBadRequest)
		return
	}
	if n == 0 {
		fmt.Fprint(w, "done")
		return
	}
	http.Redirect(w, r, "/chain/"+strconv.Itoa(n-1), http.StatusFound)
}

// bigHandler writes n bytes, flushing first when chunked is set so that no
// Content-Length is sent.
func bigHandler(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "bad n", http.StatusBadRequest)
		return
	}
	if r.URL.Query().Has("chunked") {
		w.(http.Flusher).Flush()
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(n))
	}
	w.Write([]byte(strings.Repeat("x", n)))
}
