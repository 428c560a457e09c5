// Package ids makes Kiln's public identifiers: a type prefix and a
// lexicographically time-ordered ULID, such as "site_01j9z3…". Sorting ids
// sorts by creation time, which is what cursor pagination relies on.
package ids

import (
	"crypto/rand"
	"strings"

	"github.com/oklog/ulid/v2"
)

// New returns a fresh id with the given type prefix ("job", "site", …).
func New(prefix string) string {
	return prefix + "_" + strings.ToLower(ulid.MustNew(ulid.Now(), rand.Reader).String())
}

// HasPrefix reports whether id carries the given type prefix, so a handler
// can answer 404 at once for an id of the wrong type.
func HasPrefix(id, prefix string) bool {
	return strings.HasPrefix(id, prefix+"_") && len(id) == len(prefix)+1+ulid.EncodedSize
}
