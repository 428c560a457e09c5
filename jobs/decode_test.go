package jobs_test

import (
	"encoding/json"
	"testing"

	"github.com/kilnhq/kiln/jobs"
)

func TestStrictDecode(t *testing.T) {
	type input struct {
		Name string `json:"name"`
	}
	tests := []struct {
		raw     string
		want    string
		wantErr bool
	}{
		{raw: ``, want: ""},
		{raw: `  `, want: ""},
		{raw: `{"name":"a"}`, want: "a"},
		{raw: `{"name":"a","extra":1}`, wantErr: true},
		{raw: `{"name":1}`, wantErr: true},
	}
	for _, tt := range tests {
		var in input
		err := jobs.StrictDecode(json.RawMessage(tt.raw), &in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && in.Name != tt.want) {
			t.Errorf("StrictDecode(%q): %+v, %v; want name %q, error %v", tt.raw, in, err, tt.want, tt.wantErr)
		}
	}
}
