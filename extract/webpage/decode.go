package webpage

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// metaCharsetRe finds a charset declared in a <meta> tag, either
// <meta charset="x"> or <meta http-equiv="Content-Type" content="...; charset=x">.
var metaCharsetRe = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)`)

// metaScanLimit is how far into the body Decode looks for a <meta> charset
// when the first kilobyte (the HTML standard's prescan) has none.
const metaScanLimit = 64 << 10

// Decode turns a fetched body plus its Content-Type header into UTF-8 text.
// The charset comes, in order, from a byte-order mark, the header, a
// <meta> declaration, or sniffing: a body that is valid UTF-8 throughout
// is UTF-8, anything else windows-1252.
func Decode(body []byte, contentType string) (string, error) {
	enc, name, certain := charset.DetermineEncoding(body, contentType)
	if !certain {
		if e, n := declaredCharset(body); e != nil {
			enc, name = e, n
		} else if utf8.Valid(body) {
			enc, name = encoding.Nop, "utf-8"
		}
	}
	if name == "utf-8" {
		return strings.ToValidUTF8(string(trimUTF8BOM(body)), "\uFFFD"), nil
	}
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return "", fmt.Errorf("decoding body as %s: %w", name, err)
	}
	return string(out), nil
}

// declaredCharset looks for a <meta> charset in the first metaScanLimit
// bytes. As in the HTML standard, a declared UTF-16 means UTF-8: a page
// whose markup could be read as ASCII is not UTF-16.
func declaredCharset(body []byte) (encoding.Encoding, string) {
	if len(body) > metaScanLimit {
		body = body[:metaScanLimit]
	}
	m := metaCharsetRe.FindSubmatch(body)
	if m == nil {
		return nil, ""
	}
	e, name := charset.Lookup(string(m[1]))
	if strings.HasPrefix(name, "utf-16") {
		return encoding.Nop, "utf-8"
	}
	return e, name
}

// trimUTF8BOM drops a leading UTF-8 byte-order mark.
func trimUTF8BOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
