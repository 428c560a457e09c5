package ai

import (
	"context"

	"github.com/sashabaranov/go-openai"
)

// ListModels returns the ids of the models the provider serves (GET
// /models). It is the cheapest authenticated call, so it also checks a key:
// a refused key fails with ErrProviderAuthFailed.
func (p *Provider) ListModels(ctx context.Context) ([]string, error) {
	var ids []string
	_, err := p.call(ctx, "list models", func(ctx context.Context, c *openai.Client) error {
		out, err := c.ListModels(ctx)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, m := range out.Models {
			ids = append(ids, m.ID)
		}
		return nil
	})
	return ids, err
}
