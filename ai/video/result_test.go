package video

import (
	"errors"
	"testing"

	"github.com/kilnhq/kiln/ai"
)

func TestParseResult(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		urls    []string
		seconds float64
		size    int64
		want    error
	}{
		{name: "fal File object", raw: `{"video":{"url":"https://v3.fal.media/a.mp4","content_type":"video/mp4",` +
			`"file_name":"a.mp4","file_size":1824075},"seed":42}`,
			urls: []string{"https://v3.fal.media/a.mp4"}, size: 1824075},
		{name: "duration on the file", raw: `{"video":{"url":"https://x/a.mp4","duration":8.04}}`,
			urls: []string{"https://x/a.mp4"}, seconds: 8.04},
		{name: "duration beside the video, as a string", raw: `{"video":{"url":"https://x/a.mp4"},"duration":"5s"}`,
			urls: []string{"https://x/a.mp4"}, seconds: 5},
		{name: "frames and fps", raw: `{"video":{"url":"https://x/a.mp4","num_frames":121,"fps":24.2}}`,
			urls: []string{"https://x/a.mp4"}, seconds: 5},
		{name: "a list of videos", raw: `{"videos":[{"url":"https://x/1.mp4"},{"url":"https://x/2.mp4"}]}`,
			urls: []string{"https://x/1.mp4", "https://x/2.mp4"}},
		{name: "a bare URL", raw: `{"video":"https://x/a.mp4"}`, urls: []string{"https://x/a.mp4"}},
		{name: "an odd file_size does not fail the result", raw: `{"video":{"url":"https://x/a.mp4","file_size":null}}`,
			urls: []string{"https://x/a.mp4"}},
		{name: "an image model's output", raw: `{"images":[{"url":"https://x/a.png"}]}`, want: ai.ErrProviderRequestRejected},
		{name: "not JSON", raw: `<html>`, want: ai.ErrProviderUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ParseResult([]byte(tc.raw))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("ParseResult = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if len(res.Videos) != len(tc.urls) || string(res.Raw) != tc.raw {
				t.Fatalf("Result = %+v, want videos %v and the raw output", res, tc.urls)
			}
			for i, u := range tc.urls {
				if res.Videos[i].URL != u {
					t.Errorf("video %d = %q, want %q", i, res.Videos[i].URL, u)
				}
			}
			if res.Seconds < tc.seconds-0.001 || res.Seconds > tc.seconds+0.001 || res.Video().Size != tc.size {
				t.Errorf("seconds %v size %d, want %v and %d", res.Seconds, res.Video().Size, tc.seconds, tc.size)
			}
		})
	}
}
