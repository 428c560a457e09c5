package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// permittedPorts are the only ports dialed outside allow-listed prefixes.
var permittedPorts = []uint16{80, 443}

// namedRange gives a denied prefix a reason a person can read.
type namedRange struct {
	prefix netip.Prefix
	reason string
}

// deniedRanges are refused on top of everything ssrf denies by default; they
// also name the reason in errors. More specific prefixes come first.
var deniedRanges = []namedRange{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata address"},
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (\"this network\") address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared CGNAT address (RFC 6598)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast address"},
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped IPv6 address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 address"},
	{netip.MustParsePrefix("fc00::/7"), "unique local IPv6 address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

// BlockedError says which destination was refused and why. It wraps
// ErrBlocked.
type BlockedError struct {
	// Addr is the refused address; invalid when the address could not be
	// parsed at all.
	Addr netip.Addr
	// Port is the destination port.
	Port uint16
	// Reason says why, e.g. "loopback address" or "port 8080 not permitted".
	Reason string
}

// Error reports the destination and the reason.
func (e *BlockedError) Error() string {
	if !e.Addr.IsValid() {
		return fmt.Sprintf("egress blocked: %s", e.Reason)
	}
	return fmt.Sprintf("egress blocked: %s: %s", netip.AddrPortFrom(e.Addr, e.Port), e.Reason)
}

// Unwrap makes errors.Is(err, ErrBlocked) hold.
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// guard decides whether an address and port may be dialed.
type guard struct {
	allow []netip.Prefix
	ssrf  *ssrf.Guardian
}

// newGuard returns a guard that lets allow through on any port and applies
// the default rules to everything else.
func newGuard(allow []netip.Prefix) *guard {
	return &guard{
		allow: slices.Clone(allow),
		// Ports and allowed prefixes are handled here, so that allow-listed
		// prefixes may use any port; ssrf only judges the address.
		ssrf: ssrf.New(ssrf.WithAnyPort()),
	}
}

// control is the net.Dialer Control function: it runs after resolution and
// before connect, on the address actually being dialed.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return &BlockedError{Reason: fmt.Sprintf("network %q not permitted (tcp only)", network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: fmt.Sprintf("cannot parse dial address %q: %v", address, err)}
	}
	return g.check(ap)
}

// check returns a *BlockedError when ap may not be dialed.
func (g *guard) check(ap netip.AddrPort) error {
	addr := ap.Addr().WithZone("")
	if g.allowed(addr) {
		return nil
	}
	if reason := deniedReason(addr, g.ssrf); reason != "" {
		return &BlockedError{Addr: ap.Addr(), Port: ap.Port(), Reason: reason}
	}
	if !slices.Contains(permittedPorts, ap.Port()) {
		reason := fmt.Sprintf("port %d not permitted (only 80 and 443 outside allow-listed ranges)", ap.Port())
		return &BlockedError{Addr: ap.Addr(), Port: ap.Port(), Reason: reason}
	}
	return nil
}

// allowed reports whether addr is inside an allow-listed prefix. An
// IPv4-mapped IPv6 address only matches an IPv6 prefix.
func (g *guard) allowed(addr netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// deniedReason says why addr is refused, or "" when it is permitted.
func deniedReason(addr netip.Addr, s *ssrf.Guardian) string {
	for _, r := range deniedRanges {
		if r.prefix.Contains(addr) {
			return fmt.Sprintf("%s, in %s", r.reason, r.prefix)
		}
	}
	if err := s.SafeAddr(addr); err != nil {
		return ssrfReason(err)
	}
	return ""
}

// ssrfReason turns an ssrf error into a reason without repeating the
// sentinel's own text.
func ssrfReason(err error) string {
	msg := err.Error()
	if errors.Is(err, ssrf.ErrProhibitedIP) {
		msg = strings.TrimPrefix(msg, ssrf.ErrProhibitedIP.Error()+": ")
	}
	return "special-purpose address: " + msg
}

// ParseAllow parses an allow list of CIDR prefixes separated by commas
// and/or white space, such as "10.0.0.0/8, fd00::/8 192.0.2.7". A bare address
// means just that address (/32 or /128). An empty string gives an empty list.
// Prefixes with host bits set and zoned addresses are rejected, so a typo does
// not silently open a different range.
func ParseAllow(s string) ([]netip.Prefix, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	prefixes := make([]netip.Prefix, 0, len(fields))
	for i, f := range fields {
		p, err := parseAllowEntry(f)
		if err != nil {
			return nil, fmt.Errorf("parse egress allow list entry %d %q: %w", i+1, f, err)
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

// parseAllowEntry parses one CIDR prefix or bare address.
func parseAllowEntry(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix: %w", err)
		}
		if addr.Zone() != "" {
			return netip.Prefix{}, errors.New("zoned addresses are not allowed")
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("host bits are set (did you mean %s?)", p.Masked())
	}
	return p, nil
}
