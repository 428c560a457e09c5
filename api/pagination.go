package api

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

const (
	defaultLimit = 50
	maxLimit     = 200
)

// listBody is the envelope of every list answer.
type listBody[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageOf reads limit and cursor from the query string.
func pageOf(c *gin.Context) (pg.Page, error) {
	page := pg.Page{Limit: defaultLimit}
	var f problem.FieldErrors
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		f.Check(err != nil || n < 1 || n > maxLimit, "limit", "must be a whole number from 1 to 200")
		page.Limit = n
	}
	if raw := c.Query("cursor"); raw != "" {
		after, err := base64.RawURLEncoding.DecodeString(raw)
		f.Check(err != nil || len(after) == 0, "cursor", "is not a cursor this API gave out; use next_cursor from the previous page")
		page.After = string(after)
	}
	return page, f.Err()
}

// writeList answers a page of items and the cursor of the next page.
func writeList[T any](c *gin.Context, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	body := listBody[T]{Data: items}
	if next != "" {
		body.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	c.JSON(http.StatusOK, body)
}

// listed adapts a domain list function to a handler.
func listed[T any](s *Server, list func(c *gin.Context, page pg.Page) ([]T, string, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		page, err := pageOf(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := list(c, page)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeList(c, items, next)
	}
}
