package testkit

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// CheckLedger fails t unless the credit invariants of CONVENTIONS.md
// section 2 hold in db: every balance is the sum of its tenant's ledger,
// every job was reserved exactly once and, once final, settled exactly once
// with its charge equal to reserve minus release, and every tenant's
// reserved credits are those of its unfinished jobs. It also checks the
// admission count: each tenant's job_slots row holds the number of its
// admitted, queued or running, unparked jobs.
func CheckLedger(t testing.TB, db *pgxpool.Pool) {
	t.Helper()
	checks := []struct{ what, query string }{
		{"tenants whose balance is not the sum of their ledger", `SELECT count(*) FROM credit_accounts a
			WHERE a.balance <> (SELECT coalesce(sum(amount), 0) FROM credit_ledger l WHERE l.tenant_id = a.tenant_id)`},
		{"jobs not reserved exactly once", `SELECT count(*) FROM jobs j
			WHERE (SELECT count(*) FROM credit_ledger l WHERE l.job_id = j.id AND l.entry = 'reserve') <> 1`},
		{"jobs not settled exactly once when final, or settled while open", `SELECT count(*) FROM jobs j
			WHERE (SELECT count(*) FROM credit_ledger l WHERE l.job_id = j.id AND l.entry = 'release')
			   <> (CASE WHEN j.status IN ('succeeded', 'failed', 'canceled') THEN 1 ELSE 0 END)`},
		{"final jobs whose charge is missing or differs from reserve minus release", `SELECT count(*) FROM jobs j
			WHERE j.status IN ('succeeded', 'failed', 'canceled') AND (j.credits_charged IS NULL
			   OR j.credits_charged <> -(SELECT sum(amount) FROM credit_ledger l WHERE l.job_id = j.id))`},
		{"tenants whose reserved credits do not match their open jobs", `SELECT count(*) FROM credit_accounts a WHERE a.reserved <>
			(SELECT coalesce(sum(credits_reserved), 0) FROM jobs j WHERE j.tenant_id = a.tenant_id
			 AND j.status NOT IN ('succeeded', 'failed', 'canceled'))`},
		{"tenants whose job_slots count differs from their active jobs", `SELECT count(*) FROM tenants t
			WHERE coalesce((SELECT active FROM job_slots s WHERE s.tenant_id = t.id), 0) <>
			(SELECT count(*) FROM jobs j WHERE j.tenant_id = t.id AND j.admitted_at IS NOT NULL
			 AND j.status IN ('queued', 'running') AND j.parked_until IS NULL)`},
	}
	for _, c := range checks {
		var bad int
		Must(t, c.what, db.QueryRow(context.Background(), c.query).Scan(&bad))
		if bad != 0 {
			t.Errorf("%d %s", bad, c.what)
		}
	}
}
