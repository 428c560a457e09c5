package rag

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// metadataMap decodes a JSON object of metadata; null or empty is {}.
func metadataMap(raw []byte) (map[string]any, error) {
	out := map[string]any{}
	if len(raw) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}
