package egress

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// target is a URL's destination once checked: its host (a name or an IP
// literal, without brackets or zone handling) and its port.
type target struct {
	host string
	addr netip.Addr // valid when host is an IP literal
	port uint16
}

// parseTarget checks u before anything is resolved or dialed: http or https,
// no userinfo, a host that is not an ambiguous numeric spelling, a valid
// port.
func parseTarget(u *url.URL) (target, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return target{}, fmt.Errorf("%w: scheme %q not permitted (http or https only)", ErrInvalidURL, u.Scheme)
	}
	if u.User != nil {
		return target{}, fmt.Errorf("%w: credentials in the URL are not permitted", ErrInvalidURL)
	}
	host := u.Hostname()
	if host == "" {
		return target{}, fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	port, err := urlPort(u)
	if err != nil {
		return target{}, err
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return target{host: host, addr: addr, port: port}, nil
	}
	if endsInNumber(host) {
		return target{}, fmt.Errorf("%w: host %q is a non-standard IPv4 spelling (decimal, octal, hex or shortened); write four decimal octets", ErrInvalidURL, host)
	}
	return target{host: host, port: port}, nil
}

// urlPort returns u's explicit port or the scheme's default one.
func urlPort(u *url.URL) (uint16, error) {
	p := u.Port()
	if p == "" {
		if u.Scheme == "https" {
			return 443, nil
		}
		return 80, nil
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: port %q out of range", ErrInvalidURL, p)
	}
	return uint16(n), nil
}

// endsInNumber reports whether host's last label is numeric (decimal digits,
// or 0x followed by hex digits). Such a host is an IPv4 address to some
// parsers (inet_aton, WHATWG URL) and a name to others, so it is refused
// unless it is a canonical dotted-quad. This catches 2130706433, 0177.0.0.1,
// 0x7f.1 and 127.1.
func endsInNumber(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// checkTarget refuses a URL whose host is an IP literal the guard denies,
// before any connection is attempted. Names are checked after resolution,
// by the dialer.
func (g *guard) checkTarget(t target) error {
	if !t.addr.IsValid() {
		return nil
	}
	return g.check(netip.AddrPortFrom(t.addr, t.port))
}

// redact returns u without userinfo, query or fragment, for error messages.
func redact(u *url.URL) string {
	r := *u
	r.User = nil
	r.RawQuery = ""
	r.ForceQuery = false
	r.Fragment = ""
	r.RawFragment = ""
	return r.String()
}

// guardedTransport checks each request URL (the first and every redirect)
// before handing it to the base transport, and sets the User-Agent.
type guardedTransport struct {
	base      http.RoundTripper
	guard     *guard
	userAgent string
}

// RoundTrip implements http.RoundTripper.
func (t *guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.checkRequest(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.userAgent)
	}
	return t.base.RoundTrip(req)
}

// checkRequest applies the URL rules and the literal-address check to req.
func (t *guardedTransport) checkRequest(req *http.Request) error {
	tg, err := parseTarget(req.URL)
	if err != nil {
		return err
	}
	return t.guard.checkTarget(tg)
}

// CheckURL is the pre-flight check for a user-given URL, for refusing it at
// submit time: it applies the URL rules, resolves the host and checks every
// resolved address and the port. It connects to nothing. Passing it does not
// make a later request safe on its own (DNS can change); Do checks again at
// dial time. Errors wrap ErrInvalidURL, ErrBlocked or ErrUnresolvable.
func (c *Client) CheckURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("check URL: %w: %w", ErrInvalidURL, err)
	}
	tg, err := parseTarget(u)
	if err != nil {
		return fmt.Errorf("check URL %s: %w", redact(u), err)
	}
	addrs, err := c.resolve(ctx, tg)
	if err != nil {
		return fmt.Errorf("check URL %s: %w", redact(u), err)
	}
	for _, a := range addrs {
		if err := c.guard.check(netip.AddrPortFrom(a, tg.port)); err != nil {
			return fmt.Errorf("check URL %s: host %s: %w", redact(u), tg.host, err)
		}
	}
	return nil
}

// resolve returns the addresses t's host stands for.
func (c *Client) resolve(ctx context.Context, t target) ([]netip.Addr, error) {
	if t.addr.IsValid() {
		return []netip.Addr{t.addr}, nil
	}
	addrs, err := c.resolver.LookupNetIP(ctx, "ip", t.host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w: %w", t.host, ErrUnresolvable, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: %w: no addresses", t.host, ErrUnresolvable)
	}
	// The resolver may give IPv4 answers (from /etc/hosts, say) in
	// IPv4-mapped form; the dialer connects to them as plain IPv4, so judge
	// them as that.
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}
