package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// submitResult is the outcome of one submit in a batch.
type submitResult struct {
	job Job
	err error
}

// insertBatch records a batch of prepared submits in one transaction: it
// locks each tenant's credit account once, prices and reserves every job in
// order (refusing with 402 those that no longer fit), decides admission
// against each tenant's cap, and inserts the jobs, their ledger entries and
// their first events with one statement each. If the transaction fails, each
// submit is retried alone so one bad job cannot fail the others.
func (s *Service) insertBatch(items []prepared) []submitResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var results []submitResult
	insert := func(lock bool) error {
		return pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
			var err error
			results, err = s.insertTx(ctx, tx, items, lock)
			return err
		})
	}
	err := insert(false)
	if errors.Is(err, errRaced) {
		err = insert(true)
	}
	if err == nil {
		return results
	}
	if len(items) == 1 {
		if pg.IsForeignKeyViolation(err) {
			err = problem.NotFoundf("site")
		}
		return []submitResult{{err: err}}
	}
	out := make([]submitResult, 0, len(items))
	for _, it := range items {
		out = append(out, s.insertBatch([]prepared{it})...)
	}
	return out
}

// errRaced means another batch spent a tenant's credits between this
// batch's read and its reservation; the batch is rolled back and redone
// with the tenants' credit rows locked.
var errRaced = errors.New("credit balance changed during the batch")

// account is a tenant's credit position as a batch sees it, and what the
// batch reserves from it.
type account struct {
	balance, spent int64
	limit          *int64
	room           int
	reserve        int64
}

// insertTx reads the tenants' credit positions, decides every item, and
// writes the batch. The credit rows are updated last, each with a guard
// that its balance still covers the batch, so they stay locked only for the
// commit; with lock, they are locked from the start instead.
func (s *Service) insertTx(ctx context.Context, tx pgx.Tx, items []prepared, lock bool) ([]submitResult, error) {
	tenants := distinctTenants(items)
	accounts, prices, err := s.readPositions(ctx, tx, tenants, items, lock)
	if err != nil {
		return nil, err
	}
	results := make([]submitResult, len(items))
	rows := newJobRows(len(items))
	now := time.Now()
	for i, it := range items {
		cost := prices.of(it.req.TenantID, it.kind) * it.units
		acct := accounts[it.req.TenantID]
		if err := acct.afford(cost); err != nil {
			results[i].err = err
			continue
		}
		status, runAt := StatusQueued, now
		if it.req.RunAt != nil && it.req.RunAt.After(now) {
			status, runAt = StatusScheduled, *it.req.RunAt
		}
		admit := status == StatusQueued && acct.room > 0
		if admit {
			acct.room--
		}
		rows.add(i, it, cost, status, runAt, admit)
	}
	if len(rows.id) == 0 {
		return results, nil
	}
	inserted, err := s.insertRows(ctx, tx, rows, accounts, tenants)
	if err != nil {
		return nil, err
	}
	for k, idx := range rows.index {
		results[idx].job = inserted[rows.id[k]]
	}
	return results, nil
}

func distinctTenants(items []prepared) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		if !seen[it.req.TenantID] {
			seen[it.req.TenantID] = true
			out = append(out, it.req.TenantID)
		}
	}
	sort.Strings(out) // lock in one order everywhere: no deadlocks between batches
	return out
}

// readPositions reads, in one round trip, each tenant's credit position
// and room under its cap, and the prices of the batch's kinds.
func (s *Service) readPositions(ctx context.Context, tx pgx.Tx, tenants []string, items []prepared, lock bool) (map[string]*account, prices, error) {
	var kinds []string
	for _, it := range items {
		kinds = append(kinds, it.kind.Name)
	}
	forUpdate := ""
	if lock {
		forUpdate = " FOR UPDATE"
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT a.tenant_id, a.balance, a.monthly_limit, `+spentThisMonth("a")+`
		FROM credit_accounts a WHERE a.tenant_id = ANY($1) ORDER BY a.tenant_id`+forUpdate, tenants)
	b.Queue(`SELECT tenant_id, active FROM job_slots WHERE tenant_id = ANY($1)`, tenants)
	b.Queue(priceQuery, kinds, tenants)
	br := tx.SendBatch(ctx, b)
	defer br.Close()

	accounts := map[string]*account{}
	for _, t := range tenants {
		accounts[t] = &account{room: s.cfg.TenantMaxActive}
	}
	if err := scanAccounts(br, accounts); err != nil {
		return nil, nil, err
	}
	if err := scanRoom(br, accounts, s.cfg.TenantMaxActive); err != nil {
		return nil, nil, err
	}
	p, err := scanPrices(br)
	return accounts, p, err
}

func scanAccounts(br pgx.BatchResults, accounts map[string]*account) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("read credit accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var a account
		if err := rows.Scan(&t, &a.balance, &a.limit, &a.spent); err != nil {
			return fmt.Errorf("read credit account: %w", err)
		}
		accounts[t].balance, accounts[t].limit, accounts[t].spent = a.balance, a.limit, a.spent
	}
	return rows.Err()
}

func scanRoom(br pgx.BatchResults, accounts map[string]*account, capacity int) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("read active job counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return fmt.Errorf("read active job count: %w", err)
		}
		accounts[t].room = max(0, capacity-n)
	}
	return rows.Err()
}

// afford takes cost from the account, or says why it cannot (402).
func (a *account) afford(cost int64) error {
	if a.balance < cost {
		return &problem.Problem{Kind: problem.PaymentRequired, Code: "insufficient_credits",
			Message: fmt.Sprintf("this job costs %d credits and %d are available; ask an administrator for more", cost, a.balance),
			Details: map[string]any{"required": cost, "available": a.balance}}
	}
	if a.limit != nil && a.spent+cost > *a.limit {
		return &problem.Problem{Kind: problem.PaymentRequired, Code: "monthly_limit_reached",
			Message: fmt.Sprintf("this job costs %d credits, which would pass the monthly limit of %d (spent %d this month)", cost, *a.limit, a.spent),
			Details: map[string]any{"required": cost, "monthly_limit": *a.limit, "spent_this_month": a.spent}}
	}
	a.balance -= cost
	a.spent += cost
	a.reserve += cost
	return nil
}

// prices maps tenant and kind to the price of one unit.
type prices map[[2]string]int64

func (p prices) of(tenantID string, k *Kind) int64 {
	if v, ok := p[[2]string{tenantID, k.Name}]; ok {
		return v
	}
	if v, ok := p[[2]string{"", k.Name}]; ok {
		return v
	}
	return k.Price
}

// priceQuery reads the cost table entries (global and the tenants' own)
// for some kinds.
const priceQuery = `SELECT tenant_id, kind, credits FROM job_costs WHERE kind = ANY($1) AND (tenant_id = '' OR tenant_id = ANY($2))`

// priceTable reads the prices of the kinds in items for tenants.
func priceTable(ctx context.Context, q pg.Querier, tenants []string, items []prepared) (prices, error) {
	var kinds []string
	for _, it := range items {
		kinds = append(kinds, it.kind.Name)
	}
	rows, err := q.Query(ctx, priceQuery, kinds, tenants)
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	return collectPrices(rows)
}

func scanPrices(br pgx.BatchResults) (prices, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	return collectPrices(rows)
}

func collectPrices(rows pgx.Rows) (prices, error) {
	defer rows.Close()
	out := prices{}
	for rows.Next() {
		var t, k string
		var c int64
		if err := rows.Scan(&t, &k, &c); err != nil {
			return nil, fmt.Errorf("read prices: %w", err)
		}
		out[[2]string{t, k}] = c
	}
	return out, rows.Err()
}

// jobRows holds a batch's new jobs as columns, for one INSERT from unnest.
type jobRows struct {
	index                                                    []int
	id, tenant, site, kind, status, priority, input, webhook []string
	events, metadata, retryOf, createdBy, traceParent        []string
	maxAttempts                                              []int32
	timeoutMS, cost                                          []int64
	runAt                                                    []time.Time
	admitted                                                 []bool
}

func newJobRows(n int) *jobRows { return &jobRows{index: make([]int, 0, n)} }

func (r *jobRows) add(i int, it prepared, cost int64, status Status, runAt time.Time, admit bool) {
	req := it.req
	events, _ := json.Marshal(nonNil(req.WebhookEvents))
	r.index = append(r.index, i)
	r.id = append(r.id, ids.New("job"))
	r.tenant = append(r.tenant, req.TenantID)
	r.site = append(r.site, req.SiteID)
	r.kind = append(r.kind, it.kind.Name)
	r.status = append(r.status, string(status))
	r.priority = append(r.priority, string(req.Priority))
	r.input = append(r.input, string(it.input))
	r.webhook = append(r.webhook, req.Webhook)
	r.events = append(r.events, string(events))
	r.metadata = append(r.metadata, string(req.Metadata))
	r.retryOf = append(r.retryOf, req.RetryOf)
	r.createdBy = append(r.createdBy, req.CreatedBy)
	r.traceParent = append(r.traceParent, req.TraceParent)
	r.maxAttempts = append(r.maxAttempts, int32(it.kind.MaxAttempts))
	r.timeoutMS = append(r.timeoutMS, it.kind.Timeout.Milliseconds())
	r.cost = append(r.cost, cost)
	r.runAt = append(r.runAt, runAt.Truncate(time.Microsecond)) // Postgres keeps microseconds
	r.admitted = append(r.admitted, admit)
}

// insertRows sends, in one round trip, the jobs, their reserve entries and
// their first events, then each tenant's reservation guarded by its balance,
// then the count of its admitted jobs (job_slots); it returns the jobs by
// id, or errRaced if a guard failed. The two per-tenant rows come last, so
// they stay locked only until the commit, and in the order completeBatch
// locks them too (credit row, then slots row): no deadlock between the two.
func (s *Service) insertRows(ctx context.Context, tx pgx.Tx, r *jobRows, accounts map[string]*account, tenants []string) (map[string]Job, error) {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO jobs (id, tenant_id, site_id, kind, status, priority, input, webhook, webhook_events,
			metadata, retry_of, created_by, max_attempts, timeout_ms, credits_reserved, run_at, admitted_at, traceparent)
		SELECT id, tenant, nullif(site, ''), kind, status, priority, input::jsonb, nullif(webhook, ''),
			ARRAY(SELECT jsonb_array_elements_text(events::jsonb)), metadata::jsonb, nullif(retry_of, ''), nullif(created_by, ''),
			max_attempts, timeout_ms, cost, CASE WHEN status = 'scheduled' THEN run_at ELSE now() END, CASE WHEN admitted THEN now() END,
			nullif(traceparent, '')
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::int[], $14::bigint[], $15::bigint[], $16::timestamptz[], $17::bool[], $18::text[])
			AS v(id, tenant, site, kind, status, priority, input, webhook, events, metadata, retry_of, created_by,
			     max_attempts, timeout_ms, cost, run_at, admitted, traceparent)
		RETURNING id, created_at, run_at`,
		r.id, r.tenant, r.site, r.kind, r.status, r.priority, r.input, r.webhook, r.events,
		r.metadata, r.retryOf, r.createdBy, r.maxAttempts, r.timeoutMS, r.cost, r.runAt, r.admitted, r.traceParent)
	b.Queue(`INSERT INTO credit_ledger (tenant_id, job_id, entry, amount)
		SELECT tenant, id, 'reserve', -cost FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(tenant, id, cost)`,
		r.tenant, r.id, r.cost)
	b.Queue(`INSERT INTO job_events (job_id, type, data)
		SELECT id, CASE status WHEN 'scheduled' THEN 'job.scheduled' ELSE 'job.queued' END,
			jsonb_build_object('status', status, 'run_at', run_at)
		FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS v(id, status, run_at)`, r.id, r.status, r.runAt)
	charged := reservingTenants(tenants, accounts)
	b.Queue(`UPDATE credit_accounts a SET
			month_spent = `+spentThisMonth("a")+` + v.cost,
			month = `+thisMonth+`,
			balance = a.balance - v.cost, reserved = a.reserved + v.cost, updated_at = now()
		FROM unnest($1::text[], $2::bigint[]) AS v(tenant, cost)
		WHERE a.tenant_id = v.tenant AND a.balance >= v.cost
		  AND (a.monthly_limit IS NULL OR
		       `+spentThisMonth("a")+` + v.cost <= a.monthly_limit)`,
		charged, column(charged, accounts, func(a *account) int64 { return a.reserve }))
	admitting, admitted := admittedPerTenant(r)
	b.Queue(`INSERT INTO job_slots AS s (tenant_id, active)
		SELECT tenant, n FROM unnest($1::text[], $2::int[]) AS v(tenant, n) ORDER BY tenant
		ON CONFLICT (tenant_id) DO UPDATE SET active = s.active + EXCLUDED.active`, admitting, admitted)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	inserted, err := scanInserted(br.Query())
	if err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("append reserves to ledger: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("record first events: %w", err)
	}
	tag, err := br.Exec()
	if err != nil {
		return nil, fmt.Errorf("reserve credits: %w", err)
	}
	if tag.RowsAffected() != int64(len(charged)) {
		return nil, errRaced
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("count admitted jobs: %w", err)
	}
	out := make(map[string]Job, len(r.id))
	for k, id := range r.id {
		out[id] = s.newJob(r, k, inserted[id].created, inserted[id].runAt)
	}
	return out, nil
}

// admittedPerTenant counts the batch's admitted jobs per tenant, tenants in
// id order.
func admittedPerTenant(r *jobRows) ([]string, []int32) {
	n := map[string]int32{}
	for k, t := range r.tenant {
		if r.admitted[k] {
			n[t]++
		}
	}
	tenants := slices.Sorted(maps.Keys(n))
	counts := make([]int32, len(tenants))
	for i, t := range tenants {
		counts[i] = n[t]
	}
	return tenants, counts
}

// insertStamps are what Postgres set on an inserted job.
type insertStamps struct{ created, runAt time.Time }

// scanInserted reads the jobs insert's answer: each job's stamps by id.
func scanInserted(rows pgx.Rows, err error) (map[string]insertStamps, error) {
	if err != nil {
		return nil, fmt.Errorf("insert jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]insertStamps{}
	for rows.Next() {
		var id string
		var st insertStamps
		if err := rows.Scan(&id, &st.created, &st.runAt); err != nil {
			return nil, fmt.Errorf("insert jobs: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert jobs: %w", err)
	}
	return out, nil
}

// newJob is the k-th inserted job as Get would read it back.
func (s *Service) newJob(r *jobRows, k int, createdAt, runAt time.Time) Job {
	j := Job{
		ID: r.id[k], TenantID: r.tenant[k], Kind: r.kind[k], Status: Status(r.status[k]), Priority: Priority(r.priority[k]),
		Input: json.RawMessage(r.input[k]), Metadata: json.RawMessage(r.metadata[k]), MaxAttempts: int(r.maxAttempts[k]),
		RunAt: runAt, CreatedAt: createdAt, UpdatedAt: createdAt, Credits: Credits{Reserved: r.cost[k]},
		Webhook: nilIfEmpty(r.webhook[k]), SiteID: nilIfEmpty(r.site[k]), RetryOf: nilIfEmpty(r.retryOf[k]),
		admitted: r.admitted[k], timeout: time.Duration(r.timeoutMS[k]) * time.Millisecond, traceParent: r.traceParent[k],
	}
	_ = json.Unmarshal([]byte(r.events[k]), &j.WebhookEvents)
	j.URLs = s.urls(j.ID)
	return j
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// reservingTenants are the tenants the batch takes credits from.
func reservingTenants(tenants []string, accounts map[string]*account) []string {
	var out []string
	for _, t := range tenants {
		if accounts[t].reserve > 0 {
			out = append(out, t)
		}
	}
	return out
}

func column(tenants []string, accounts map[string]*account, f func(*account) int64) []int64 {
	out := make([]int64, len(tenants))
	for i, t := range tenants {
		out[i] = f(accounts[t])
	}
	return out
}
