// Package ids makes Kiln's public identifiers: a type prefix and a
// lexicographically time-ordered ULID, such as "site_01j9z3…". Sorting ids
// sorts by creation time, which is what cursor pagination relies on.
package ids

import (
	"strings"

	"github.com/oklog/ulid/v2"
)

// New returns a fresh id with the given type prefix ("job", "site", …).
// Ids made in one process within the same millisecond still sort in the
// order they were made: ulid.Make's entropy is monotonic (and safe for
// concurrent use), where fresh random bits would order them by chance.
func New(prefix string) string {
	return prefix + "_" + strings.ToLower(ulid.Make().String())
}

// HasPrefix reports whether id carries the given type prefix, so a handler
// can answer 404 at once for an id of the wrong type.
func HasPrefix(id, prefix string) bool {
	return strings.HasPrefix(id, prefix+"_") && len(id) == len(prefix)+1+ulid.EncodedSize
}
