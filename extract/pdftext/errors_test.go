package pdftext

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"other", errors.New("disk on fire"), ""},
		{"context", context.Canceled, ""},
		{"encrypted", codeError(ErrEncrypted, "x"), CodeEncrypted},
		{"invalid", codeError(ErrInvalid, "x"), CodeInvalid},
		{"no text", codeError(ErrNoText, "x"), CodeNoText},
		{"too large", codeError(ErrTooLarge, "x"), CodeTooLarge},
		{"timeout", codeError(ErrTimeout, "x"), CodeTimeout},
		{"wrapped again", fmt.Errorf("job 7: %w", codeError(ErrNoText, "x")), CodeNoText},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Code(c.err); got != c.want {
				t.Errorf("Code(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}

func TestErrorForCodeRoundTrips(t *testing.T) {
	for _, code := range []string{CodeEncrypted, CodeInvalid, CodeNoText, CodeTooLarge, CodeTimeout} {
		if got := Code(errorForCode(code)); got != code {
			t.Errorf("Code(errorForCode(%q)) = %q", code, got)
		}
	}
	if errorForCode("pdf_unheard_of") != nil {
		t.Error("errorForCode of an unknown code is not nil")
	}
}
