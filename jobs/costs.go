package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
)

// Cost is the price of one unit of a kind: the global default, and the
// tenant's override where one is set.
type Cost struct {
	Kind     string `json:"kind"`
	Credits  int64  `json:"credits"`
	TenantID string `json:"tenant_id,omitempty"`
}

// price returns the credits per unit of kind for tenantID: the tenant's
// override, else the global entry of the cost table, else the kind's default.
func price(ctx context.Context, q pg.Querier, tenantID string, k *Kind) (int64, error) {
	table, err := priceTable(ctx, q, []string{tenantID}, []prepared{{kind: k}})
	if err != nil {
		return 0, err
	}
	return table.of(tenantID, k), nil
}

// Costs lists the price of every kind for tenantID ("" for the global
// table).
func (s *Service) Costs(ctx context.Context, tenantID string) ([]Cost, error) {
	var out []Cost
	for _, k := range s.kinds.List() {
		p, err := price(ctx, s.db, tenantID, k)
		if err != nil {
			return nil, err
		}
		out = append(out, Cost{Kind: k.Name, Credits: p, TenantID: tenantID})
	}
	return out, nil
}

// SetCosts sets the price of kinds, globally (tenantID "") or for one
// tenant. Unknown kinds and negative prices are refused, and nothing is
// written unless every entry is valid.
func (s *Service) SetCosts(ctx context.Context, tenantID string, costs map[string]int64) ([]Cost, error) {
	for kind, credits := range costs {
		if _, ok := s.kinds.Get(kind); !ok {
			return nil, fieldProblem("costs."+kind, "is not a known job kind")
		}
		if credits < 0 || credits > 1_000_000 {
			return nil, fieldProblem("costs."+kind, "must be from 0 to 1000000 credits")
		}
	}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		for kind, credits := range costs {
			_, err := tx.Exec(ctx, `INSERT INTO job_costs (tenant_id, kind, credits) VALUES ($1, $2, $3)
				ON CONFLICT (tenant_id, kind) DO UPDATE SET credits = $3, updated_at = now()`, tenantID, kind, credits)
			if err != nil {
				return fmt.Errorf("set price of %s: %w", kind, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Costs(ctx, tenantID)
}
