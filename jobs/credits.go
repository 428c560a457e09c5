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

// thisMonth is the SQL for the first day of the current month in UTC: the
// key of credit_accounts.month, which month_spent belongs to.
const thisMonth = `date_trunc('month', now() AT TIME ZONE 'UTC')::date`

// spentThisMonth is the SQL for a credit account's spend this month: its
// month_spent when that is this month's, else nothing yet. table is the
// credit_accounts alias.
func spentThisMonth(table string) string {
	return "CASE WHEN " + table + ".month = " + thisMonth + " THEN " + table + ".month_spent ELSE 0 END"
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

// Balance returns the tenant's credit position.
func (s *Service) Balance(ctx context.Context, tenantID string) (Balance, error) {
	var b Balance
	err := s.db.QueryRow(ctx, `SELECT a.balance, a.reserved, a.monthly_limit, `+spentThisMonth("a")+`
		FROM credit_accounts a WHERE a.tenant_id = $1`, tenantID).Scan(&b.Balance, &b.Reserved, &b.MonthlyLimit, &b.SpentThisMonth)
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
