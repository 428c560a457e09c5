package webhook_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/kilnhq/kiln/webhook"
)

// Example shows a receiver's http.Handler verifying Kiln's webhook
// deliveries, and what it answers to a genuine and a tampered request.
func Example() {
	// The endpoint's signing secret, as Kiln showed it when the webhook was
	// created. Keep it out of source code in a real receiver.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verifier, err := webhook.NewVerifier(secret)
	if err != nil {
		panic(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Verify the raw bytes: parsing and re-encoding JSON first would
		// change them and break the signature.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := verifier.Verify(r.Header, body); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// webhook-id is the same on every retry of an event: use it to
		// process each event once.
		fmt.Fprintf(w, "accepted %s", r.Header.Get(webhook.HeaderID))
	})

	// What Kiln sends: a body and the three signed headers.
	body := []byte(`{"type":"job.succeeded","timestamp":"2026-01-02T03:04:05Z","data":{"id":"job_1"}}`)
	headers, err := webhook.Headers([]string{secret}, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Now(), body)
	if err != nil {
		panic(err)
	}

	deliver := func(body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/hooks/kiln", bytes.NewReader(body))
		for k, v := range headers {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	deliver(body)
	deliver(bytes.Replace(body, []byte("job_1"), []byte("job_2"), 1))

	// Output:
	// 200 accepted msg_2KWPBgLlAfxdpx2AI54pPJ85f4W
	// 401 invalid signature
}

// ExampleSign signs the Standard Webhooks reference message.
func ExampleSign() {
	sig, err := webhook.Sign(
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0),
		[]byte(`{"test": 2432232314}`),
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}
