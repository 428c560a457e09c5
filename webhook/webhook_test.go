package webhook

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The Standard Webhooks reference test vector, as used by the reference
// libraries' tests (libraries/*/tests in standard-webhooks/standard-webhooks).
const (
	vecSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecUnix      = 1614265330
	vecBody      = `{"test": 2432232314}`
	vecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	// vecNearMiss differs from vecSignature in its last base64 digit.
	vecNearMiss = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
)

// vecTime is the vector's timestamp.
var vecTime = time.Unix(vecUnix, 0)

// secretOf returns a whsec_ secret for n bytes of value b.
func secretOf(b byte, n int) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(b), n)))
}

// vecHeader returns the vector's headers.
func vecHeader() http.Header {
	h := http.Header{}
	h.Set(HeaderID, vecMsgID)
	h.Set(HeaderTimestamp, "1614265330")
	h.Set(HeaderSignature, vecSignature)
	return h
}

// TestSignReferenceVector checks Sign and Headers against the reference
// vector, byte for byte.
func TestSignReferenceVector(t *testing.T) {
	tests := []struct {
		name   string
		secret string
	}{
		{"whsec_ secret", vecSecret},
		{"secret without prefix", strings.TrimPrefix(vecSecret, SecretPrefix)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sign(tt.secret, vecMsgID, vecTime, []byte(vecBody))
			if err != nil {
				t.Fatal(err)
			}
			if got != vecSignature {
				t.Errorf("Sign = %s, want %s", got, vecSignature)
			}
			h, err := Headers([]string{tt.secret}, vecMsgID, vecTime, []byte(vecBody))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(vecHeader(), h); diff != "" {
				t.Errorf("Headers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerify is the tamper matrix around the reference vector, with the
// clock fixed relative to the vector's timestamp.
func TestVerify(t *testing.T) {
	other := secretOf('k', 32)
	otherSig, err := Sign(other, vecMsgID, vecTime, []byte(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	validB64 := strings.TrimPrefix(vecSignature, "v1,")
	tests := []struct {
		name      string
		secrets   []string
		tolerance time.Duration
		clock     time.Duration // now = vector time + clock
		edit      func(h http.Header)
		body      string
		wantErr   error
	}{
		{name: "reference vector", wantErr: nil},
		{name: "secret without prefix", secrets: []string{strings.TrimPrefix(vecSecret, SecretPrefix)}},
		{name: "changed body", body: `{"test": 2432232315}`, wantErr: ErrInvalidSignature},
		{name: "body with extra space", body: `{"test":  2432232314}`, wantErr: ErrInvalidSignature},
		{name: "changed id", edit: func(h http.Header) { h.Set(HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJeK") }, wantErr: ErrInvalidSignature},
		{name: "changed timestamp within tolerance", edit: func(h http.Header) { h.Set(HeaderTimestamp, "1614265331") }, wantErr: ErrInvalidSignature},
		{name: "near-miss signature", edit: func(h http.Header) { h.Set(HeaderSignature, vecNearMiss) }, wantErr: ErrInvalidSignature},
		{name: "truncated signature", edit: func(h http.Header) { h.Set(HeaderSignature, vecSignature[:20]) }, wantErr: ErrInvalidSignature},
		{name: "wrong secret", secrets: []string{other}, wantErr: ErrInvalidSignature},
		{name: "signed with another secret", edit: func(h http.Header) { h.Set(HeaderSignature, otherSig) }, wantErr: ErrInvalidSignature},
		{name: "valid under unknown version only", edit: func(h http.Header) { h.Set(HeaderSignature, "v2,"+validB64) }, wantErr: ErrInvalidSignature},
		{name: "asymmetric v1a entry ignored", edit: func(h http.Header) { h.Set(HeaderSignature, "v1a,"+validB64) }, wantErr: ErrInvalidSignature},
		{name: "bare base64 without version", edit: func(h http.Header) { h.Set(HeaderSignature, validB64) }, wantErr: ErrInvalidSignature},
		{name: "multiple signatures, one valid", edit: func(h http.Header) {
			h.Set(HeaderSignature, strings.Join([]string{
				"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
				"v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
				"garbage", "v1,not-base64!", vecSignature, otherSig,
			}, " "))
		}},
		{name: "multiple signatures, none valid", edit: func(h http.Header) {
			h.Set(HeaderSignature, vecNearMiss+" "+otherSig+" v2,"+validB64)
		}, wantErr: ErrInvalidSignature},
		{name: "signatures across repeated headers", edit: func(h http.Header) {
			h.Set(HeaderSignature, otherSig)
			h.Add(HeaderSignature, vecSignature)
		}},
		{name: "extra white space between signatures", edit: func(h http.Header) {
			h.Set(HeaderSignature, "  "+otherSig+"   "+vecSignature+" ")
		}},
		{name: "rotation: verifier holds old and new secret", secrets: []string{other, vecSecret}},
		{name: "old by exactly the tolerance", clock: 5 * time.Minute},
		{name: "too old", clock: 5*time.Minute + time.Second, wantErr: ErrTimestampTooOld},
		{name: "much too old", clock: 72 * time.Hour, wantErr: ErrTimestampTooOld},
		{name: "new by exactly the tolerance", clock: -5 * time.Minute},
		{name: "too new", clock: -5*time.Minute - time.Second, wantErr: ErrTimestampTooNew},
		{name: "wider tolerance", tolerance: 10 * time.Minute, clock: 9 * time.Minute},
		{name: "narrower tolerance", tolerance: 30 * time.Second, clock: time.Minute, wantErr: ErrTimestampTooOld},
		{name: "timestamp not a number", edit: func(h http.Header) { h.Set(HeaderTimestamp, "hello") }, wantErr: ErrInvalidTimestamp},
		{name: "timestamp in milliseconds", edit: func(h http.Header) { h.Set(HeaderTimestamp, "1614265330000") }, wantErr: ErrTimestampTooNew},
		{name: "missing id", edit: func(h http.Header) { h.Del(HeaderID) }, wantErr: ErrMissingHeaders},
		{name: "missing timestamp", edit: func(h http.Header) { h.Del(HeaderTimestamp) }, wantErr: ErrMissingHeaders},
		{name: "missing signature", edit: func(h http.Header) { h.Del(HeaderSignature) }, wantErr: ErrMissingHeaders},
		{name: "blank signature", edit: func(h http.Header) { h.Set(HeaderSignature, "   ") }, wantErr: ErrMissingHeaders},
		{name: "no headers", edit: func(h http.Header) { clear(h) }, wantErr: ErrMissingHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := tt.secrets
			if secrets == nil {
				secrets = []string{vecSecret}
			}
			v, err := NewVerifier(secrets...)
			if err != nil {
				t.Fatal(err)
			}
			v.Tolerance = tt.tolerance
			v.Now = func() time.Time { return vecTime.Add(tt.clock) }
			h := vecHeader()
			if tt.edit != nil {
				tt.edit(h)
			}
			body := vecBody
			if tt.body != "" {
				body = tt.body
			}
			err = v.Verify(h, []byte(body))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestVerifyFunc checks the one-secret Verify against a fresh signature,
// with the real clock and default tolerance.
func TestVerifyFunc(t *testing.T) {
	body := []byte(`{"type":"job.succeeded"}`)
	tests := []struct {
		name    string
		signAt  time.Time
		secret  string
		wantErr error
	}{
		{"fresh", time.Now(), vecSecret, nil},
		{"six minutes old", time.Now().Add(-6 * time.Minute), vecSecret, ErrTimestampTooOld},
		{"six minutes ahead", time.Now().Add(6 * time.Minute), vecSecret, ErrTimestampTooNew},
		{"wrong secret", time.Now(), secretOf('z', 24), ErrInvalidSignature},
		{"malformed secret", time.Now(), "whsec_%%%", ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Headers([]string{vecSecret}, "msg_1", tt.signAt, body)
			if err != nil {
				t.Fatal(err)
			}
			err = Verify(tt.secret, h, body)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestHeadersRotation checks that Headers signs with every secret and that
// each signature verifies on its own.
func TestHeadersRotation(t *testing.T) {
	oldS, newS, unrelated := secretOf('o', 32), secretOf('n', 32), secretOf('u', 32)
	body := []byte(`{"type":"job.failed"}`)
	h, err := Headers([]string{newS, oldS}, "msg_rot", vecTime, body)
	if err != nil {
		t.Fatal(err)
	}
	wantNew, _ := Sign(newS, "msg_rot", vecTime, body)
	wantOld, _ := Sign(oldS, "msg_rot", vecTime, body)
	if got, want := h.Get(HeaderSignature), wantNew+" "+wantOld; got != want {
		t.Errorf("signature header = %q, want %q", got, want)
	}
	tests := []struct {
		secret  string
		wantErr error
	}{
		{newS, nil},
		{oldS, nil},
		{unrelated, ErrInvalidSignature},
	}
	for _, tt := range tests {
		v, err := NewVerifier(tt.secret)
		if err != nil {
			t.Fatal(err)
		}
		v.Now = func() time.Time { return vecTime }
		if err := v.Verify(h, body); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("Verify with %s = %v, want %v", tt.secret, err, tt.wantErr)
		}
	}
}

// TestSignErrors checks the refused inputs of Sign, Headers and NewVerifier.
func TestSignErrors(t *testing.T) {
	tests := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{"empty id", func() error { _, err := Sign(vecSecret, "", vecTime, nil); return err }, ErrInvalidMessageID},
		{"id with dot", func() error { _, err := Sign(vecSecret, "msg.1", vecTime, nil); return err }, ErrInvalidMessageID},
		{"id with space", func() error { _, err := Sign(vecSecret, "msg 1", vecTime, nil); return err }, ErrInvalidMessageID},
		{"secret not base64", func() error { _, err := Sign("whsec_not base64!", "m", vecTime, nil); return err }, ErrInvalidSecret},
		{"asymmetric key prefix", func() error { _, err := Sign("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", vecTime, nil); return err }, ErrInvalidSecret},
		{"secret too short", func() error { _, err := Sign(secretOf('s', 23), "m", vecTime, nil); return err }, ErrInvalidSecret},
		{"secret too long", func() error { _, err := Sign(secretOf('s', 65), "m", vecTime, nil); return err }, ErrInvalidSecret},
		{"empty secret", func() error { _, err := Sign("", "m", vecTime, nil); return err }, ErrInvalidSecret},
		{"no secrets for Headers", func() error { _, err := Headers(nil, "m", vecTime, nil); return err }, ErrInvalidSecret},
		{"one bad secret for Headers", func() error {
			_, err := Headers([]string{vecSecret, "whsec_"}, "m", vecTime, nil)
			return err
		}, ErrInvalidSecret},
		{"no secrets for NewVerifier", func() error { _, err := NewVerifier(); return err }, ErrInvalidSecret},
		{"bad secret for NewVerifier", func() error { _, err := NewVerifier(vecSecret, "nope"); return err }, ErrInvalidSecret},
		{"bad secret for Verify", func() error { return Verify("whsec_", vecHeader(), []byte(vecBody)) }, ErrInvalidSecret},
		{"64-byte secret is fine", func() error { _, err := Sign(secretOf('s', 64), "m", vecTime, nil); return err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestNewSecret checks the secret format and that secrets differ.
func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 3 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		enc, ok := strings.CutPrefix(s, SecretPrefix)
		if !ok {
			t.Fatalf("secret %q has no %s prefix", s, SecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(key) != 32 {
			t.Fatalf("secret %q decodes to %d bytes (%v), want 32", s, len(key), err)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
		h, err := Headers([]string{s}, "msg_new", time.Now(), []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(s, h, []byte("{}")); err != nil {
			t.Errorf("round trip with new secret: %v", err)
		}
	}
}
