package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/jobs"
)

func (s *Server) creditBalance(c *gin.Context) {
	b, err := s.jobs.Balance(c.Request.Context(), caller(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (s *Server) creditTransactions(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]jobs.LedgerEntry, string, error) {
		return s.jobs.Transactions(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

type monthlyLimitRequest struct {
	MonthlyLimit *int64 `json:"monthly_limit"`
}

// setMonthlyLimit lets a tenant's owner cap its spend per calendar month
// (null removes the cap).
func (s *Server) setMonthlyLimit(c *gin.Context) {
	var req monthlyLimitRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	b, err := s.jobs.SetMonthlyLimit(c.Request.Context(), caller(c).TenantID, req.MonthlyLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

type grantRequest struct {
	Amount int64  `json:"amount"`
	Note   string `json:"note"`
}

// grantCredits adds (or, negative, removes) credits for a tenant; platform
// admins only.
func (s *Server) grantCredits(c *gin.Context) {
	var req grantRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	b, err := s.jobs.Grant(c.Request.Context(), c.Param("id"), req.Amount, req.Note, caller(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

type costsRequest struct {
	TenantID string           `json:"tenant_id"`
	Costs    map[string]int64 `json:"costs"`
}

// getCosts lists the global price of every kind, or a tenant's prices with
// ?tenant_id=.
func (s *Server) getCosts(c *gin.Context) {
	costs, err := s.jobs.Costs(c.Request.Context(), c.Query("tenant_id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	writeList(c, costs, "")
}

// putCosts sets prices globally, or for one tenant with tenant_id.
func (s *Server) putCosts(c *gin.Context) {
	var req costsRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if req.TenantID != "" {
		if _, err := s.identity.GetTenant(ctx, req.TenantID); err != nil {
			s.fail(c, err)
			return
		}
	}
	costs, err := s.jobs.SetCosts(ctx, req.TenantID, req.Costs)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeList(c, costs, "")
}
