package translate

import (
	"testing"

	"github.com/kilnhq/kiln/ai"
)

func TestCreditsFollowTheTenantsPrice(t *testing.T) {
	tests := []struct {
		name          string
		tokens        int
		share, defPri int64
		want          int64
	}{
		{"default price, few tokens", 500, 5, 5, 1},
		{"default price, 2,001 tokens", 2001, 5, 5, 2},
		{"default price, capped at the share", 50000, 5, 5, 5},
		{"cheaper for this tenant: never above its share", 9000, 1, 5, 1},
		{"dearer for this tenant: scales up", 2001, 50, 5, 11},
		{"free for this tenant", 9000, 0, 5, 0},
		{"media at the default price", 300, 1, 1, 1},
	}
	for _, tt := range tests {
		got := credits(ai.CallUsage{PromptTokens: tt.tokens / 2, CompletionTokens: tt.tokens - tt.tokens/2}, tt.share, tt.defPri)
		if got != tt.want {
			t.Errorf("%s: %d credits, want %d", tt.name, got, tt.want)
		}
	}
}
