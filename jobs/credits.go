package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// Ledger entry kinds. A grant adds credits; a reserve takes a job's estimate
// at submit; a release gives back what the job did not use when it settles.
const (
	EntryGrant   = "grant"
	EntryReserve = "reserve"
	EntryRelease = "release"
)

// Balance is a tenant's credit position.
type Balance struct {
	// Balance is what the tenant can still spend.
	Balance int64 `json:"balance"`
	// Reserved is held by jobs that have not settled yet.
	Reserved       int64  `json:"reserved"`
	MonthlyLimit   *int64 `json:"monthly_limit"`
	SpentThisMonth int64  `json:"spent_this_month"`
}

// LedgerEntry is one line of the append-only credit ledger.
type LedgerEntry struct {
	ID        int64     `json:"id"`
	Entry     string    `json:"entry"`
	Amount    int64     `json:"amount"`
	JobID     *string   `json:"job_id"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// OpenAccount creates a tenant's credit account with its signup grant; it
// runs inside the transaction that creates the tenant.
func (s *Service) OpenAccount(ctx context.Context, tx pgx.Tx, tenantID string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO credit_accounts (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING`, tenantID); err != nil {
		return fmt.Errorf("open credit account: %w", err)
	}
	if s.cfg.SignupCredits > 0 {
		return addEntry(ctx, tx, tenantID, nil, EntryGrant, s.cfg.SignupCredits, "signup credits", "")
	}
	return nil
}

// Grant adds credits to a tenant (platform admins only).
func (s *Service) Grant(ctx context.Context, tenantID string, amount int64, note, by string) (Balance, error) {
	if amount == 0 || amount > 1_000_000_000 || amount < -1_000_000_000 {
		return Balance{}, fieldProblem("amount", "must be a non-zero whole number of credits, at most a billion either way")
	}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO credit_accounts (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING`, tenantID); err != nil {
			if pg.IsForeignKeyViolation(err) {
				return problem.NotFoundf("tenant")
			}
			return fmt.Errorf("open credit account: %w", err)
		}
		return addEntry(ctx, tx, tenantID, nil, EntryGrant, amount, note, by)
	})
	if err != nil {
		return Balance{}, err
	}
	return s.Balance(ctx, tenantID)
}

// addEntry appends a ledger line and applies it to the cached balance.
func addEntry(ctx context.Context, q pg.Querier, tenantID string, jobID *string, entry string, amount int64, note, by string) error {
	if _, err := q.Exec(ctx, `INSERT INTO credit_ledger (tenant_id, job_id, entry, amount, note, created_by)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''))`, tenantID, jobID, entry, amount, note, by); err != nil {
		return fmt.Errorf("append %s to ledger: %w", entry, err)
	}
	if _, err := q.Exec(ctx, `UPDATE credit_accounts SET balance = balance + $2, updated_at = now() WHERE tenant_id = $1`, tenantID, amount); err != nil {
		return fmt.Errorf("apply %s to balance: %w", entry, err)
	}
	return nil
}

// reserve takes cost from the tenant's balance for jobID, or answers 402
// with what is required and what is available. It checks the monthly limit.
func reserve(ctx context.Context, tx pgx.Tx, tenantID, jobID string, cost int64) error {
	var balance int64
	err := tx.QueryRow(ctx, `UPDATE credit_accounts SET
			month_spent = CASE WHEN month = date_trunc('month', now() AT TIME ZONE 'UTC')::date THEN month_spent ELSE 0 END + $2,
			month = date_trunc('month', now() AT TIME ZONE 'UTC')::date,
			balance = balance - $2, reserved = reserved + $2, updated_at = now()
		WHERE tenant_id = $1 AND balance >= $2
		  AND (monthly_limit IS NULL OR
		       CASE WHEN month = date_trunc('month', now() AT TIME ZONE 'UTC')::date THEN month_spent ELSE 0 END + $2 <= monthly_limit)
		RETURNING balance`, tenantID, cost).Scan(&balance)
	if errors.Is(err, pgx.ErrNoRows) {
		return insufficient(ctx, tx, tenantID, cost)
	}
	if err != nil {
		return fmt.Errorf("reserve credits: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO credit_ledger (tenant_id, job_id, entry, amount) VALUES ($1, $2, 'reserve', $3)`, tenantID, jobID, -cost)
	if err != nil {
		return fmt.Errorf("append reserve to ledger: %w", err)
	}
	return nil
}

// insufficient builds the 402 answer: not enough balance, or over the
// monthly limit.
func insufficient(ctx context.Context, tx pgx.Tx, tenantID string, cost int64) error {
	var b Balance
	err := tx.QueryRow(ctx, `SELECT balance, monthly_limit,
			CASE WHEN month = date_trunc('month', now() AT TIME ZONE 'UTC')::date THEN month_spent ELSE 0 END
		FROM credit_accounts WHERE tenant_id = $1`, tenantID).Scan(&b.Balance, &b.MonthlyLimit, &b.SpentThisMonth)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read credit account: %w", err)
	}
	if b.Balance >= cost && b.MonthlyLimit != nil {
		return &problem.Problem{Kind: problem.PaymentRequired, Code: "monthly_limit_reached",
			Message: fmt.Sprintf("this job costs %d credits, which would pass the monthly limit of %d (spent %d this month)", cost, *b.MonthlyLimit, b.SpentThisMonth),
			Details: map[string]any{"required": cost, "monthly_limit": *b.MonthlyLimit, "spent_this_month": b.SpentThisMonth}}
	}
	return &problem.Problem{Kind: problem.PaymentRequired, Code: "insufficient_credits",
		Message: fmt.Sprintf("this job costs %d credits and %d are available; ask an administrator for more", cost, b.Balance),
		Details: map[string]any{"required": cost, "available": b.Balance}}
}

// settle closes a job's reservation: it charges charged (capped at what
// was reserved) and releases the rest. The unique ledger key per job and
// entry makes a second settle a no-op.
func (s *Service) settle(ctx context.Context, tx pgx.Tx, j Job, charged int64) (int64, error) {
	if charged > j.Credits.Reserved {
		s.log.ErrorContext(ctx, "pricing bug: usage beyond the reservation; charging the reservation",
			"job_id", j.ID, "kind", j.Kind, "reserved", j.Credits.Reserved, "usage", charged)
		charged = j.Credits.Reserved
	}
	if charged < 0 {
		charged = 0
	}
	release := j.Credits.Reserved - charged
	tag, err := tx.Exec(ctx, `INSERT INTO credit_ledger (tenant_id, job_id, entry, amount) VALUES ($1, $2, 'release', $3)
		ON CONFLICT (job_id, entry) WHERE job_id IS NOT NULL DO NOTHING`, j.TenantID, j.ID, release)
	if err != nil {
		return 0, fmt.Errorf("settle credits of %s: %w", j.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return charged, nil // settled before
	}
	_, err = tx.Exec(ctx, `UPDATE credit_accounts SET balance = balance + $2, reserved = reserved - $3,
			month_spent = CASE WHEN month = date_trunc('month', now() AT TIME ZONE 'UTC')::date THEN greatest(month_spent - $2, 0) ELSE month_spent END,
			updated_at = now()
		WHERE tenant_id = $1`, j.TenantID, release, j.Credits.Reserved)
	if err != nil {
		return 0, fmt.Errorf("apply settlement of %s: %w", j.ID, err)
	}
	return charged, nil
}

// Balance returns the tenant's credit position.
func (s *Service) Balance(ctx context.Context, tenantID string) (Balance, error) {
	var b Balance
	err := s.db.QueryRow(ctx, `SELECT balance, reserved, monthly_limit,
			CASE WHEN month = date_trunc('month', now() AT TIME ZONE 'UTC')::date THEN month_spent ELSE 0 END
		FROM credit_accounts WHERE tenant_id = $1`, tenantID).Scan(&b.Balance, &b.Reserved, &b.MonthlyLimit, &b.SpentThisMonth)
	if errors.Is(err, pgx.ErrNoRows) {
		return Balance{}, nil
	}
	if err != nil {
		return Balance{}, fmt.Errorf("read balance of %s: %w", tenantID, err)
	}
	return b, nil
}

// SetMonthlyLimit sets or (with nil) clears a tenant's monthly spend limit.
func (s *Service) SetMonthlyLimit(ctx context.Context, tenantID string, limit *int64) (Balance, error) {
	if limit != nil && *limit < 0 {
		return Balance{}, fieldProblem("monthly_limit", "must be zero or more, or null for no limit")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO credit_accounts (tenant_id, monthly_limit) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET monthly_limit = $2, updated_at = now()`, tenantID, limit)
	if err != nil {
		return Balance{}, fmt.Errorf("set monthly limit of %s: %w", tenantID, err)
	}
	return s.Balance(ctx, tenantID)
}

// Transactions lists the tenant's ledger, newest first.
func (s *Service) Transactions(ctx context.Context, tenantID string, page pg.Page) ([]LedgerEntry, string, error) {
	after := int64(1<<63 - 1)
	if page.After != "" {
		if _, err := fmt.Sscan(page.After, &after); err != nil {
			return nil, "", fieldProblem("cursor", "is not a cursor this API gave out")
		}
	}
	rows, err := s.db.Query(ctx, `SELECT id, entry, amount, job_id, note, created_at FROM credit_ledger
		WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, tenantID, after, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list ledger: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerEntry, error) {
		var e LedgerEntry
		err := r.Scan(&e.ID, &e.Entry, &e.Amount, &e.JobID, &e.Note, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list ledger: %w", err)
	}
	list, next := pg.Trim(list, page, func(e LedgerEntry) string { return fmt.Sprint(e.ID) })
	return list, next, nil
}

func fieldProblem(field, reason string) error {
	var f problem.FieldErrors
	f.Add(field, reason)
	return f.Err()
}
