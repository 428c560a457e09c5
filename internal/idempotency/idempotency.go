// Package idempotency stores Idempotency-Key records so a retried POST gets
// the first answer instead of doing the work twice (CONVENTIONS.md section
// 3): the same key and body replay the first response; the same key with
// another body is refused; a retry while the first is in flight is a
// conflict. Records live 24 hours. It owns the idempotency_keys table.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "idempotency", FS: migrations, Dir: "migrations"}
}

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// Problems the API answers with.
var (
	ErrKeyReused = problem.New(problem.Invalid, "idempotency_key_reused",
		"this Idempotency-Key was used with a different request body; use a new key for a new request")
	ErrInFlight = problem.New(problem.Conflict, "idempotency_key_in_flight",
		"a request with this Idempotency-Key is still being processed; retry shortly to get its answer")
)

// Store keeps idempotency records in Postgres.
type Store struct{ db *pgxpool.Pool }

// New returns a Store over db.
func New(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Response is a stored answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Fingerprint hashes what makes two requests the same: method, path and body.
func Fingerprint(method, path string, body []byte) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	return h.Sum(nil)
}

// Begin claims key for a request with fingerprint. It returns a stored
// response to replay, or nil when the caller should do the work and then
// call Complete (or Abandon). Expired records are replaced.
func (s *Store) Begin(ctx context.Context, tenantID, key string, fingerprint []byte) (*Response, error) {
	var stored []byte
	var status *int
	var header []byte
	var body []byte
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at < now() - $3::interval`,
			tenantID, key, TTL.String()); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (tenant_id, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			tenantID, key, fingerprint)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		return tx.QueryRow(ctx, `SELECT request_hash, status_code, headers, body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`,
			tenantID, key).Scan(&stored, &status, &header, &body)
	})
	if err != nil {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	if stored == nil {
		return nil, nil // claimed: do the work
	}
	if !bytes.Equal(stored, fingerprint) {
		return nil, ErrKeyReused
	}
	if status == nil {
		return nil, ErrInFlight
	}
	r := &Response{Status: *status, Body: body, Header: http.Header{}}
	if len(header) > 0 {
		if err := json.Unmarshal(header, &r.Header); err != nil {
			return nil, fmt.Errorf("decode stored headers: %w", err)
		}
	}
	return r, nil
}

// Complete stores the answer for key.
func (s *Store) Complete(ctx context.Context, tenantID, key string, r Response) error {
	header, err := json.Marshal(r.Header)
	if err != nil {
		return fmt.Errorf("encode headers: %w", err)
	}
	_, err = s.db.Exec(ctx, `UPDATE idempotency_keys SET status_code = $3, headers = $4, body = $5 WHERE tenant_id = $1 AND key = $2`,
		tenantID, key, r.Status, header, r.Body)
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// Abandon forgets key, so a retry does the work again (after a failure on
// our side, which must not be replayed).
func (s *Store) Abandon(ctx context.Context, tenantID, key string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`, tenantID, key); err != nil {
		return fmt.Errorf("abandon idempotency key: %w", err)
	}
	return nil
}

// Prune deletes expired records and returns how many.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval`, TTL.String())
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
