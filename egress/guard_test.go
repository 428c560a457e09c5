package egress

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGuardCheck unit-tests the address and port rules, including ports on
// public addresses that no test may dial.
func TestGuardCheck(t *testing.T) {
	tests := []struct {
		allow      string
		addr       string
		wantReason string // "" means permitted
	}{
		{"", "8.8.8.8:443", ""},
		{"", "8.8.8.8:80", ""},
		{"", "8.8.8.8:8080", "port 8080 not permitted"},
		{"", "8.8.8.8:22", "port 22 not permitted"},
		{"", "93.184.216.34:0", "port 0 not permitted"},
		{"", "[2606:4700::1111]:443", ""},
		{"", "[2606:4700::1111]:6379", "port 6379 not permitted"},
		{"", "127.0.0.1:80", "loopback address, in 127.0.0.0/8"},
		{"", "127.255.255.254:443", "loopback address"},
		{"", "10.1.2.3:443", "private address (RFC 1918)"},
		{"", "172.16.0.1:80", "private address (RFC 1918)"},
		{"", "172.31.255.255:80", "private address (RFC 1918)"},
		{"", "172.32.0.1:443", ""},
		{"", "192.168.1.1:80", "private address (RFC 1918)"},
		{"", "100.64.0.1:80", "shared CGNAT address"},
		{"", "100.127.255.255:80", "shared CGNAT address"},
		{"", "100.128.0.1:443", ""},
		{"", "169.254.169.254:80", "cloud metadata address"},
		{"", "169.254.10.1:80", "link-local address"},
		{"", "0.0.0.0:80", "unspecified"},
		{"", "224.0.0.251:80", "multicast address"},
		{"", "255.255.255.255:80", "broadcast"},
		{"", "192.0.2.10:80", "special-purpose address"},
		{"", "198.18.0.1:443", "special-purpose address"},
		{"", "[::1]:80", "loopback address"},
		{"", "[::]:80", "unspecified address"},
		{"", "[fc00::1]:443", "unique local IPv6 address"},
		{"", "[fd12:3456::1]:443", "unique local IPv6 address"},
		{"", "[fd00:ec2::254]:80", "cloud metadata address"},
		{"", "[fe80::1]:80", "link-local address"},
		{"", "[fe80::1%eth0]:80", "link-local address"},
		{"", "[ff02::1]:80", "multicast address"},
		{"", "[::ffff:127.0.0.1]:80", "IPv4-mapped IPv6 address"},
		{"", "[::ffff:8.8.8.8]:443", "IPv4-mapped IPv6 address"},
		{"", "[64:ff9b::a9fe:a9fe]:80", "NAT64 address"},
		{"", "[2001:db8::1]:443", "special-purpose address"},
		{"", "[3fff::1]:443", "special-purpose address"},
		{"127.0.0.1/32", "127.0.0.1:8080", ""},
		{"127.0.0.1/32", "127.0.0.1:80", ""},
		{"127.0.0.1/32", "127.0.0.2:80", "loopback address"},
		{"127.0.0.1/32", "[::ffff:127.0.0.1]:8080", "IPv4-mapped IPv6 address"},
		{"::ffff:0:0/96", "[::ffff:127.0.0.1]:8080", ""},
		{"10.0.0.0/8", "10.9.9.9:5432", ""},
		{"10.0.0.0/8", "11.0.0.1:5432", "port 5432 not permitted"},
		{"fe80::/10", "[fe80::1%eth0]:8080", ""},
		{"169.254.0.0/16", "169.254.169.254:80", ""},
	}
	for _, tt := range tests {
		allow, err := ParseAllow(tt.allow)
		if err != nil {
			t.Fatal(err)
		}
		err = newGuard(allow).check(netip.MustParseAddrPort(tt.addr))
		if tt.wantReason == "" {
			if err != nil {
				t.Errorf("allow %q: check(%s) = %v, want permitted", tt.allow, tt.addr, err)
			}
			continue
		}
		if !errors.Is(err, ErrBlocked) || !strings.Contains(blockedReason(err), tt.wantReason) {
			t.Errorf("allow %q: check(%s) = %v, want blocked with %q", tt.allow, tt.addr, err, tt.wantReason)
		}
	}
}

// TestGuardControl checks the Control function's own parsing and network rule.
func TestGuardControl(t *testing.T) {
	g := newGuard(nil)
	tests := []struct {
		network, address string
		wantBlocked      bool
	}{
		{"tcp4", "8.8.8.8:443", false},
		{"tcp6", "[2606:4700::1111]:80", false},
		{"tcp4", "127.0.0.1:80", true},
		{"tcp4", "8.8.8.8:8080", true},
		{"udp4", "8.8.8.8:443", true},
		{"unix", "/run/docker.sock", true},
		{"tcp4", "not-an-address", true},
	}
	for _, tt := range tests {
		err := g.control(tt.network, tt.address, nil)
		if got := errors.Is(err, ErrBlocked); got != tt.wantBlocked {
			t.Errorf("control(%s, %s) = %v, want blocked %v", tt.network, tt.address, err, tt.wantBlocked)
		}
	}
}

// TestParseAllow checks the KILN_EGRESS_ALLOW syntax and its errors.
func TestParseAllow(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		out := []netip.Prefix{}
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		in      string
		want    []netip.Prefix
		wantErr string
	}{
		{"", pfx(), ""},
		{"  , ", pfx(), ""},
		{"10.0.0.0/8", pfx("10.0.0.0/8"), ""},
		{"10.0.0.0/8,192.168.1.5", pfx("10.0.0.0/8", "192.168.1.5/32"), ""},
		{" fd00::/8\t127.0.0.1/32 ,\n::1 ", pfx("fd00::/8", "127.0.0.1/32", "::1/128"), ""},
		{"10.0.0.1/8", nil, `entry 1 "10.0.0.1/8": host bits are set (did you mean 10.0.0.0/8?)`},
		{"10.0.0.0/8, nope", nil, `entry 2 "nope": not an IP address or CIDR prefix`},
		{"10.0.0.0/33", nil, `entry 1 "10.0.0.0/33": not a CIDR prefix`},
		{"fe80::1%eth0", nil, "zoned addresses are not allowed"},
		{"10.0.0.0/8;10.1.0.0/16", nil, "entry 1"},
	}
	for _, tt := range tests {
		got, err := ParseAllow(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAllow(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAllow(%q) error = %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("ParseAllow(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestParseTarget checks the URL rules applied before resolving or dialing.
func TestParseTarget(t *testing.T) {
	tests := []struct {
		url      string
		wantHost string
		wantPort uint16
		wantErr  bool
	}{
		{"http://example.com/", "example.com", 80, false},
		{"https://example.com/", "example.com", 443, false},
		{"https://example.com:8443/", "example.com", 8443, false},
		{"http://[::1]:81/", "::1", 81, false},
		{"http://1.2.3.4/", "1.2.3.4", 80, false},
		{"http://host-1.example/", "host-1.example", 80, false},
		{"http://v1.2/", "v1.2", 80, true},
		{"http://a1.example.0x1f/", "", 0, true},
		{"http://example.com./", "example.com.", 80, false},
		{"http://2130706433./", "", 0, true},
		{"http://0x/", "", 0, true},
		{"http://0xg1/", "0xg1", 80, false},
		{"HTTP://example.com/", "example.com", 80, false},
		{"ws://example.com/", "", 0, true},
		{"//example.com/", "", 0, true},
		{"http://u@example.com/", "", 0, true},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseTarget(u)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseTarget(%s) error = %v, want error %v", tt.url, err, tt.wantErr)
			continue
		}
		if err == nil && (got.host != tt.wantHost || got.port != tt.wantPort) {
			t.Errorf("parseTarget(%s) = %s port %d, want %s port %d", tt.url, got.host, got.port, tt.wantHost, tt.wantPort)
		}
	}
}
