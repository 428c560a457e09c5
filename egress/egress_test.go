package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testDNSRecords are the names the fake DNS server answers.
var testDNSRecords = map[string][]string{
	"loopback.kiln.test": {"127.0.0.1"},
	"internal.kiln.test": {"127.0.0.2"},
	"meta.kiln.test":     {"169.254.169.254"},
	"v6loop.kiln.test":   {"::1"},
	"public.kiln.test":   {"93.184.216.34"},
	"dual.kiln.test":     {"93.184.216.34", "2606:2800:220:1::1"},
	"mixed.kiln.test":    {"93.184.216.34", "10.0.0.1"},
	"ula.kiln.test":      {"2606:2800:220:1::1", "fd00::1"},
}

// numericSpellings are non-canonical spellings of 127.0.0.1.
var numericSpellings = []string{
	"http://2130706433/",
	"http://0177.0.0.1/",
	"http://017700000001/",
	"http://0x7f000001/",
	"http://0x7f.0.0.1/",
	"http://127.1/",
	"http://127.0.1/",
}

// ctx returns a context that ends with the test.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// getBody sends GET rawURL and reads the whole body.
func getBody(t *testing.T, c *Client, rawURL string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Get(ctx(t), rawURL)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// blockedReason returns the reason of the *BlockedError in err, or "".
func blockedReason(err error) string {
	var be *BlockedError
	if errors.As(err, &be) {
		return be.Reason
	}
	return ""
}

// TestRefusedWithoutAllowList is the SSRF matrix against a client with the
// default (empty) allow list: every destination is refused, none is reached.
func TestRefusedWithoutAllowList(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	srv := startServer(t, "127.0.0.1:0")
	srv6 := startServer(t, "[::1]:0")
	p, p6 := srv.port, srv6.port

	tests := []struct {
		name       string
		url        string
		wantErr    error
		wantReason string // substring of the BlockedError reason
		wantDial   bool   // the transport got as far as dialing (then Control refused)
	}{
		{"direct 127.0.0.1", fmt.Sprintf("http://127.0.0.1:%d/ok", p), ErrBlocked, "loopback", false},
		{"direct 127.0.0.1 port 80", "http://127.0.0.1/ok", ErrBlocked, "loopback", false},
		{"localhost resolves to loopback", fmt.Sprintf("http://localhost:%d/ok", p), ErrBlocked, "loopback", true},
		{"DNS name resolves to loopback", fmt.Sprintf("http://loopback.kiln.test:%d/ok", p), ErrBlocked, "loopback", true},
		{"DNS name resolves to ::1", fmt.Sprintf("http://v6loop.kiln.test:%d/ok", p6), ErrBlocked, "loopback", true},
		{"IPv6 loopback", fmt.Sprintf("http://[::1]:%d/ok", p6), ErrBlocked, "loopback", false},
		{"IPv4-mapped loopback", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/ok", p), ErrBlocked, "IPv4-mapped", false},
		{"metadata address", "http://169.254.169.254/latest/meta-data/", ErrBlocked, "metadata", false},
		{"DNS name resolves to metadata", "http://meta.kiln.test/latest/meta-data/", ErrBlocked, "metadata", true},
		{"link-local", "http://169.254.1.1/", ErrBlocked, "link-local", false},
		{"10/8", "http://10.0.0.1/", ErrBlocked, "RFC 1918", false},
		{"192.168/16", "https://192.168.1.1/", ErrBlocked, "RFC 1918", false},
		{"172.16/12", "http://172.16.0.1/", ErrBlocked, "RFC 1918", false},
		{"172.31 end of 172.16/12", "http://172.31.255.254/", ErrBlocked, "RFC 1918", false},
		{"CGNAT", "http://100.64.0.1/", ErrBlocked, "CGNAT", false},
		{"unspecified v4", "http://0.0.0.0/", ErrBlocked, "unspecified", false},
		{"unspecified v6", "http://[::]/", ErrBlocked, "unspecified", false},
		{"ULA", "http://[fc00::1]/", ErrBlocked, "unique local", false},
		{"ULA fd00", "http://[fd00::2]/", ErrBlocked, "unique local", false},
		{"IPv6 link-local", "http://[fe80::1]/", ErrBlocked, "link-local", false},
		{"IPv6 link-local with zone", "http://[fe80::1%25lo]/", ErrBlocked, "link-local", false},
		{"multicast v4", "http://224.0.0.1/", ErrBlocked, "multicast", false},
		{"multicast v6", "http://[ff02::1]/", ErrBlocked, "multicast", false},
		{"broadcast", "http://255.255.255.255/", ErrBlocked, "broadcast", false},
		{"documentation range (ssrf default)", "http://192.0.2.1/", ErrBlocked, "special-purpose", false},
		{"public IP on port 8080", "http://8.8.8.8:8080/", ErrBlocked, "port 8080", false},
		{"public IPv6 on port 22", "http://[2606:4700::1111]:22/", ErrBlocked, "port 22", false},
		{"scheme file", "file:///etc/passwd", ErrInvalidURL, "", false},
		{"scheme ftp", "ftp://public.kiln.test/", ErrInvalidURL, "", false},
		{"scheme gopher", "gopher://127.0.0.1:70/", ErrInvalidURL, "", false},
		{"userinfo", "http://user:pass@public.kiln.test/", ErrInvalidURL, "", false},
		{"userinfo name only", "http://user@public.kiln.test/", ErrInvalidURL, "", false},
	}
	for _, u := range numericSpellings {
		tests = append(tests, struct {
			name       string
			url        string
			wantErr    error
			wantReason string
			wantDial   bool
		}{"numeric spelling " + u, u, ErrInvalidURL, "", false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dials := newTestClient(t, Config{}, dns)
			resp, err := c.Get(ctx(t), tt.url)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get(%s) = %v, %v; want error %v", tt.url, resp, err, tt.wantErr)
			}
			if resp != nil {
				t.Errorf("Get(%s) returned a response with its error", tt.url)
			}
			if got := blockedReason(err); !strings.Contains(got, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q (err %v)", got, tt.wantReason, err)
			}
			if got := len(dials.list()) > 0; got != tt.wantDial {
				t.Errorf("dialer reached = %v, want %v (dials %v)", got, tt.wantDial, dials.list())
			}
		})
	}
	if n := srv.conns.Load() + srv6.conns.Load(); n != 0 {
		t.Errorf("local servers accepted %d connections, want 0", n)
	}
}

// TestNumericSpellingsNeverResolved checks that decimal, octal and hex
// spellings are rejected before any lookup, even when loopback is allowed.
func TestNumericSpellingsNeverResolved(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	c, dials := newTestClient(t, Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, dns)
	for _, u := range numericSpellings {
		if _, err := c.Get(ctx(t), u); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("Get(%s) error = %v, want ErrInvalidURL", u, err)
		}
		if err := c.CheckURL(ctx(t), u); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("CheckURL(%s) = %v, want ErrInvalidURL", u, err)
		}
	}
	if n := dns.queries.Load(); n != 0 {
		t.Errorf("DNS got %d queries, want 0", n)
	}
	if d := dials.list(); len(d) != 0 {
		t.Errorf("dialed %v, want nothing", d)
	}
}

// TestAllowed checks that allow-listed ranges are reached on any port, and
// that allowing IPv4 loopback does not open its IPv4-mapped spelling.
func TestAllowed(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	srv := startServer(t, "127.0.0.1:0")
	srv6 := startServer(t, "[::1]:0")
	tests := []struct {
		name     string
		allow    string
		url      string
		wantErr  error
		wantBody string
	}{
		{"allowed 127.0.0.1/32", "127.0.0.1/32", fmt.Sprintf("http://127.0.0.1:%d/ok", srv.port), nil, "ok"},
		{"allowed by bare address", "127.0.0.1", fmt.Sprintf("http://127.0.0.1:%d/ok", srv.port), nil, "ok"},
		{"allowed name resolving into range", "127.0.0.0/8", fmt.Sprintf("http://loopback.kiln.test:%d/ok", srv.port), nil, "ok"},
		{"allowed localhost", "127.0.0.0/8", fmt.Sprintf("http://localhost:%d/ok", srv.port), nil, "ok"},
		{"allowed ::1", "::1/128", fmt.Sprintf("http://[::1]:%d/ok", srv6.port), nil, "ok"},
		{"allowed redirect within range", "127.0.0.1/32", fmt.Sprintf("http://127.0.0.1:%d/redirect?to=/ok", srv.port), nil, "ok"},
		{"other loopback address not allowed", "127.0.0.2/32", fmt.Sprintf("http://127.0.0.1:%d/ok", srv.port), ErrBlocked, ""},
		{"mapped spelling of allowed v4", "127.0.0.1/32", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/ok", srv.port), ErrBlocked, ""},
		{"v6 allow does not open v4", "::1/128", fmt.Sprintf("http://127.0.0.1:%d/ok", srv.port), ErrBlocked, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow, err := ParseAllow(tt.allow)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := newTestClient(t, Config{Allow: allow}, dns)
			resp, body, err := getBody(t, c, tt.url)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Get(%s) error = %v, want %v", tt.url, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if resp.StatusCode != http.StatusOK || body != tt.wantBody {
				t.Errorf("Get(%s) = %d %q, want 200 %q", tt.url, resp.StatusCode, body, tt.wantBody)
			}
		})
	}
}

// TestRedirectToBlocked starts an allowed server on 127.0.0.1 whose
// redirects point at refused destinations: each hop is checked again and
// refused before any connection to the target is made.
func TestRedirectToBlocked(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	origin := startServer(t, "127.0.0.1:0")
	target2 := startServer(t, "127.0.0.2:0") // loopback, not allow-listed
	target6 := startServer(t, "[::1]:0")
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name       string
		to         string
		wantErr    error
		wantReason string
		wantDialTo string // a dial attempt to this address is expected (refused by Control)
	}{
		{"to metadata address", "http://169.254.169.254/latest/meta-data/", ErrBlocked, "metadata", ""},
		{"to name resolving to metadata", "http://meta.kiln.test/latest/meta-data/", ErrBlocked, "metadata", "meta.kiln.test:80"},
		{"to other loopback address", fmt.Sprintf("http://127.0.0.2:%d/ok", target2.port), ErrBlocked, "loopback", ""},
		{"to name resolving to other loopback", fmt.Sprintf("http://internal.kiln.test:%d/ok", target2.port), ErrBlocked, "loopback", fmt.Sprintf("internal.kiln.test:%d", target2.port)},
		{"to IPv6 loopback", fmt.Sprintf("http://[::1]:%d/ok", target6.port), ErrBlocked, "loopback", ""},
		{"to private", "http://10.0.0.1/", ErrBlocked, "RFC 1918", ""},
		{"to mapped allowed address", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/ok", origin.port), ErrBlocked, "IPv4-mapped", ""},
		{"to octal spelling", "http://0177.0.0.1/", ErrInvalidURL, "", ""},
		{"to other scheme", "gopher://127.0.0.1/", ErrInvalidURL, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dials := newTestClient(t, Config{Allow: allow}, dns)
			u := fmt.Sprintf("http://127.0.0.1:%d/redirect?to=%s", origin.port, url.QueryEscape(tt.to))
			_, err := c.Get(ctx(t), u)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get(%s) error = %v, want %v", u, err, tt.wantErr)
			}
			if got := blockedReason(err); !strings.Contains(got, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", got, tt.wantReason)
			}
			want := []string{fmt.Sprintf("127.0.0.1:%d", origin.port)}
			if tt.wantDialTo != "" {
				want = append(want, tt.wantDialTo)
			}
			if diff := cmp.Diff(want, dials.list()); diff != "" {
				t.Errorf("dials (-want +got):\n%s", diff)
			}
		})
	}
	if n := target2.conns.Load() + target6.conns.Load(); n != 0 {
		t.Errorf("redirect targets accepted %d connections, want 0", n)
	}
	if n := origin.hits.Load(); n != int64(len(tests)) {
		t.Errorf("origin served %d requests, want %d (one per case)", n, len(tests))
	}
}

// TestRedirectLimits checks MaxRedirects, its default, loops and NoRedirects.
func TestRedirectLimits(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	srv := startServer(t, "127.0.0.1:0")
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	base := fmt.Sprintf("http://127.0.0.1:%d", srv.port)
	tests := []struct {
		name       string
		cfg        Config
		path       string
		wantErr    error
		wantStatus int
		wantBody   string
	}{
		{"2 of max 2", Config{MaxRedirects: 2}, "/chain/2", nil, 200, "done"},
		{"3 of max 2", Config{MaxRedirects: 2}, "/chain/3", ErrTooManyRedirects, 0, ""},
		{"5 of default", Config{}, "/chain/5", nil, 200, "done"},
		{"6 of default", Config{}, "/chain/6", ErrTooManyRedirects, 0, ""},
		{"negative means default", Config{MaxRedirects: -1}, "/chain/5", nil, 200, "done"},
		{"loop", Config{}, "/loop", ErrTooManyRedirects, 0, ""},
		{"no redirects returns 3xx", Config{NoRedirects: true}, "/chain/1", nil, http.StatusFound, "<a href=\"/chain/0\">Found</a>.\n\n"},
		{"no redirects, no 3xx", Config{NoRedirects: true}, "/chain/0", nil, 200, "done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Allow = allow
			c, _ := newTestClient(t, tt.cfg, dns)
			resp, body, err := getBody(t, c, base+tt.path)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Get(%s) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("Get(%s) = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	t.Run("no redirects keeps Location and does not follow", func(t *testing.T) {
		c, _ := newTestClient(t, Config{Allow: allow, NoRedirects: true}, dns)
		before := srv.hits.Load()
		resp, _, err := getBody(t, c, base+"/redirect?to=/ok")
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Location"); got != "/ok" {
			t.Errorf("Location = %q, want /ok", got)
		}
		if n := srv.hits.Load() - before; n != 1 {
			t.Errorf("server served %d requests, want 1", n)
		}
	})
}

// TestBodyCap checks the cap on bodies returned by Do and the ReadAll helper.
func TestBodyCap(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	srv := startServer(t, "127.0.0.1:0")
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	c, _ := newTestClient(t, Config{Allow: allow, MaxBodyBytes: 1024}, dns)
	base := fmt.Sprintf("http://127.0.0.1:%d", srv.port)

	t.Run("Do body", func(t *testing.T) {
		tests := []struct {
			path    string
			wantLen int
			wantErr error
		}{
			{"/big?n=1024", 1024, nil},
			{"/big?n=1025", 0, ErrTooLarge},
			{"/big?n=1024&chunked", 1024, nil},
			{"/big?n=5000&chunked", 0, ErrTooLarge},
		}
		for _, tt := range tests {
			_, body, err := getBody(t, c, base+tt.path)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("%s: error = %v, want %v", tt.path, err, tt.wantErr)
				continue
			}
			if tt.wantErr == nil && len(body) != tt.wantLen {
				t.Errorf("%s: read %d bytes, want %d", tt.path, len(body), tt.wantLen)
			}
		}
	})
	t.Run("ReadAll", func(t *testing.T) {
		tests := []struct {
			path    string
			max     int64
			wantLen int
			wantErr error
		}{
			{"/big?n=100", 100, 100, nil},
			{"/big?n=101", 100, 0, ErrTooLarge},
			{"/big?n=101&chunked", 100, 0, ErrTooLarge},
			{"/big?n=100&chunked", 100, 100, nil},
			{"/big?n=2000", 2048, 0, ErrTooLarge}, // the client's 1024 cap still applies
			{"/big?n=10", 0, 10, nil},
		}
		for _, tt := range tests {
			resp, err := c.Get(ctx(t), base+tt.path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ReadAll(resp, tt.max)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("%s max %d: error = %v, want %v", tt.path, tt.max, err, tt.wantErr)
				continue
			}
			if tt.wantErr == nil && len(b) != tt.wantLen {
				t.Errorf("%s max %d: read %d bytes, want %d", tt.path, tt.max, len(b), tt.wantLen)
			}
		}
	})
}

// TestTimeout checks that a slow server makes the request fail quickly.
func TestTimeout(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	srv := startServer(t, "127.0.0.1:0")
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	c, _ := newTestClient(t, Config{Allow: allow, Timeout: 200 * time.Millisecond}, dns)
	start := time.Now()
	_, err := c.Get(ctx(t), fmt.Sprintf("http://127.0.0.1:%d/slow", srv.port))
	if err == nil {
		t.Fatal("Get of a slow server succeeded, want a timeout")
	}
	if got := Code(err); got != CodeTimeout {
		t.Errorf("Code(%v) = %q, want %q", err, got, CodeTimeout)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v, want about 200ms", d)
	}
}

// TestUserAgentAndProxy checks the default User-Agent, that a caller's is
// kept, and that no environment proxy is configured.
func TestUserAgentAndProxy(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	srv := startServer(t, "127.0.0.1:0")
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	u := fmt.Sprintf("http://127.0.0.1:%d/ua", srv.port)
	tests := []struct {
		name    string
		cfgUA   string
		reqUA   string
		wantUA  string
		wantErr bool
	}{
		{"default", "", "", DefaultUserAgent, false},
		{"configured", "kiln-test/2", "", "kiln-test/2", false},
		{"caller's header wins", "kiln-test/2", "caller/1", "caller/1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, Config{Allow: allow, UserAgent: tt.cfgUA}, dns)
			if c.transport.Proxy != nil {
				t.Fatal("transport has a Proxy function, want none")
			}
			req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.reqUA != "" {
				req.Header.Set("User-Agent", tt.reqUA)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ReadBody(resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.wantUA {
				t.Errorf("User-Agent = %q, want %q", got, tt.wantUA)
			}
		})
	}
}

// TestCheckURL is the pre-flight matrix: resolution through the fake DNS,
// every resolved address checked, nothing connected to.
func TestCheckURL(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	tests := []struct {
		name       string
		allow      string
		url        string
		wantErr    error
		wantReason string
	}{
		{"public name", "", "https://public.kiln.test/hook", nil, ""},
		{"public name, v4 and v6", "", "https://dual.kiln.test/", nil, ""},
		{"public literal", "", "https://8.8.8.8/", nil, ""},
		{"public literal v6", "", "http://[2606:4700::1111]/", nil, ""},
		{"public name, one private address", "", "https://mixed.kiln.test/", ErrBlocked, "RFC 1918"},
		{"public name, one ULA address", "", "https://ula.kiln.test/", ErrBlocked, "unique local"},
		{"name resolving to metadata", "", "http://meta.kiln.test/", ErrBlocked, "metadata"},
		{"name resolving to loopback", "", "http://loopback.kiln.test/", ErrBlocked, "loopback"},
		{"localhost", "", "http://localhost/", ErrBlocked, "loopback"},
		{"localhost allowed", "127.0.0.0/8", "http://localhost:9000/", nil, ""},
		{"name allowed on any port", "127.0.0.1/32", "http://loopback.kiln.test:5432/", nil, ""},
		{"metadata literal", "", "http://169.254.169.254/", ErrBlocked, "metadata"},
		{"10/8", "", "http://10.1.2.3/", ErrBlocked, "RFC 1918"},
		{"192.168/16", "", "http://192.168.0.10/", ErrBlocked, "RFC 1918"},
		{"172.16/12", "", "http://172.20.0.1/", ErrBlocked, "RFC 1918"},
		{"CGNAT", "", "http://100.100.100.200/", ErrBlocked, "CGNAT"},
		{"fc00::1", "", "http://[fc00::1]/", ErrBlocked, "unique local"},
		{"fe80::1", "", "http://[fe80::1]/", ErrBlocked, "link-local"},
		{"::ffff:127.0.0.1", "", "http://[::ffff:127.0.0.1]/", ErrBlocked, "IPv4-mapped"},
		{"::1", "", "http://[::1]/", ErrBlocked, "loopback"},
		{"public literal port 8080", "", "http://8.8.8.8:8080/", ErrBlocked, "port 8080"},
		{"public name port 8443", "", "https://public.kiln.test:8443/", ErrBlocked, "port 8443"},
		{"unknown name", "", "https://nx.kiln.test/", ErrUnresolvable, ""},
		{"decimal", "", "http://2130706433/", ErrInvalidURL, ""},
		{"octal", "", "http://0177.0.0.1/", ErrInvalidURL, ""},
		{"scheme", "", "ftp://public.kiln.test/", ErrInvalidURL, ""},
		{"userinfo", "", "https://a:b@public.kiln.test/", ErrInvalidURL, ""},
		{"no host", "", "http:///path", ErrInvalidURL, ""},
		{"port 0", "", "http://public.kiln.test:0/", ErrInvalidURL, ""},
		{"port out of range", "", "http://public.kiln.test:70000/", ErrInvalidURL, ""},
		{"unparsable", "", "http://[::1/", ErrInvalidURL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow, err := ParseAllow(tt.allow)
			if err != nil {
				t.Fatal(err)
			}
			c, dials := newTestClient(t, Config{Allow: allow}, dns)
			err = c.CheckURL(ctx(t), tt.url)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("CheckURL(%s) = %v, want %v", tt.url, err, tt.wantErr)
			}
			if got := blockedReason(err); !strings.Contains(got, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", got, tt.wantReason)
			}
			if d := dials.list(); len(d) != 0 {
				t.Errorf("CheckURL dialed %v", d)
			}
		})
	}
}

// TestBlockedErrorMessage checks what a refusal says.
func TestBlockedErrorMessage(t *testing.T) {
	dns := startDNS(t, testDNSRecords)
	c, _ := newTestClient(t, Config{}, dns)
	_, err := c.Get(ctx(t), "http://169.254.169.254/latest/meta-data/")
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("error %v has no *BlockedError", err)
	}
	want := &BlockedError{
		Addr:   netip.MustParseAddr("169.254.169.254"),
		Port:   80,
		Reason: "cloud metadata address, in 169.254.169.254/32",
	}
	if diff := cmp.Diff(want, be, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("BlockedError (-want +got):\n%s", diff)
	}
	for _, part := range []string{"169.254.169.254:80", "cloud metadata address", "egress blocked", "http://169.254.169.254/latest/meta-data/"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
	if got := Code(err); got != CodeBlocked {
		t.Errorf("Code = %q, want %q", got, CodeBlocked)
	}
}

// TestCode checks the mapping from errors to API codes.
func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("other"), ""},
		{&url.Error{Op: "Get", URL: "x", Err: &BlockedError{Reason: "r"}}, CodeBlocked},
		{fmt.Errorf("x: %w", ErrInvalidURL), CodeInvalidURL},
		{fmt.Errorf("x: %w", ErrUnresolvable), CodeUnresolvable},
		{fmt.Errorf("x: %w", ErrTooLarge), CodeTooLarge},
		{fmt.Errorf("x: %w", ErrTooManyRedirects), CodeTooManyRedirects},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), CodeTimeout},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestDefaults checks what New fills in.
func TestDefaults(t *testing.T) {
	got := withDefaults(Config{})
	if got.Timeout != 30*time.Second || got.MaxRedirects != 5 || got.MaxBodyBytes != 10<<20 ||
		got.UserAgent != DefaultUserAgent || got.Resolver == nil || got.NoRedirects || len(got.Allow) != 0 {
		t.Errorf("withDefaults(Config{}) = %+v", got)
	}
	c := New(Config{Timeout: 3 * time.Second})
	if c.http.Timeout != 3*time.Second || c.transport.ResponseHeaderTimeout != 3*time.Second {
		t.Errorf("timeouts = %v, %v; want 3s", c.http.Timeout, c.transport.ResponseHeaderTimeout)
	}
	if c.transport.Proxy != nil {
		t.Error("transport has a Proxy function, want none")
	}
	if !slices.Equal(permittedPorts, []uint16{80, 443}) {
		t.Errorf("permittedPorts = %v", permittedPorts)
	}
}
