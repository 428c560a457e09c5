// Package slug makes and checks the URL-safe identifiers (slugs) that
// tenants and sites can be addressed by.
package slug

import (
	"regexp"
	"strings"
)

var pattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// Valid reports whether s is a usable slug: lowercase letters, digits and
// inner hyphens, at most 63 characters.
func Valid(s string) bool { return pattern.MatchString(s) }

// Make turns a name into a slug, or returns fallback when nothing is left.
func Make(name, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 50 {
		s = strings.Trim(s[:50], "-")
	}
	if s == "" {
		return fallback
	}
	return s
}
