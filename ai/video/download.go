package video

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
)

// Download fetches a result file (File.URL) of at most limit bytes and
// returns it with its media type. It sends no API key. A file past the
// limit fails with ErrTooLarge, as soon as its Content-Length or its
// bytes say so; a 4xx fails with ai.ErrProviderRequestRejected (the file
// expired or the URL is wrong); 429, 5xx and network failures are retried
// like the queue API's and end as ai.ErrProviderUnavailable.
func (c *Client) Download(ctx context.Context, fileURL string, limit int64) ([]byte, string, error) {
	op := "download the fal file " + fileURL
	if err := checkHTTPURL(fileURL); err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("%s: the size limit must be positive, not %d", op, limit)
	}
	cl := call{method: http.MethodGet, url: fileURL, resend: true, timeout: c.cfg.DownloadTimeout, limit: limit, download: true}
	ans, n, err := c.do(ctx, op, cl)
	if err != nil {
		return nil, "", fmt.Errorf("%s after %d requests: %w", op, n, downloadError(err))
	}
	return ans.body, mediaType(ans.header.Get("Content-Type"), ans.body), nil
}

// downloadError classifies a failed download. A 401, 403 or 404 from a
// file host says nothing about the API key: the file is gone or private.
func downloadError(err error) error {
	var se *statusError
	if errors.As(err, &se) && se.status >= 400 && se.status < 500 && se.status != http.StatusTooManyRequests &&
		se.status != http.StatusRequestTimeout {
		return &problem.Problem{Kind: ai.ErrProviderRequestRejected.Kind, Code: ai.ErrProviderRequestRejected.Code,
			Message: fmt.Sprintf("the generated file could not be fetched (HTTP %d); it may have expired, "+
				"so generate it again", se.status)}
	}
	return classify(err)
}

// mediaType is the media type of a Content-Type header without its
// parameters, or the one sniffed from the bytes.
func mediaType(header string, body []byte) string {
	if mt, _, err := mime.ParseMediaType(header); err == nil && mt != "application/octet-stream" {
		return mt
	}
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(body))
	return mt
}
