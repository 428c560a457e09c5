package videogen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/video"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// request is a job's row in video_requests.
type request struct {
	model, requestID, state string
	queuePosition           *int
	webhookStatus           *string
	webhookError            *string
	mediaID                 *string
	submittedAt             time.Time
}

// Result is the job's result.
type Result struct {
	MediaID           string        `json:"media_id"`
	Media             content.Media `json:"media"`
	Model             string        `json:"model"`
	ProviderRequestID string        `json:"provider_request_id"`
	Seconds           float64       `json:"seconds"`
}

// run is one run of a video job: it places the request the first time,
// and afterwards checks on it until the video can be fetched.
func (s *Service) run(ctx context.Context, r *jobs.Run) (any, error) {
	var in Input
	if err := r.Input(&in); err != nil {
		return nil, jobs.Permanent("invalid_input", "the job's input cannot be read", err)
	}
	if r.Job.SiteID == nil {
		return nil, jobs.Permanent("site_required", "media.video.generate needs the job's site_id: the video is stored in that site's media", nil)
	}
	client, defaultModel, err := s.client(ctx, r.Job.TenantID)
	if err != nil {
		return nil, providerFailure("resolve the tenant's video provider", err)
	}
	req, found, err := s.load(ctx, r.Job.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case !found:
		return nil, s.submit(ctx, r, client, in, cmp.Or(in.Model, defaultModel))
	case req.requestID == "":
		return nil, errSubmitLost(nil) // a run died between recording and placing the request
	}
	return s.check(ctx, r, client, in, req)
}

// errSubmitLost ends a job whose request the provider may or may not have
// queued: submitting again could generate, and bill, twice.
func errSubmitLost(err error) error {
	return jobs.Permanent("provider_submit_lost", "the video provider did not confirm the request, which it may be generating; "+
		"it is not submitted again, as that could bill twice", err)
}

// submit places the request in the provider's queue and parks the job.
func (s *Service) submit(ctx context.Context, r *jobs.Run, client *video.Client, in Input, model string) error {
	if model == "" {
		return jobs.Permanent("provider_not_configured", "no video model is configured; set KILN_VIDEO_MODEL or the tenant's fal models.video", nil)
	}
	var image string
	if in.ImageMediaID != "" {
		var err error
		if image, err = s.imageDataURI(ctx, r.Job.TenantID, in.ImageMediaID); err != nil {
			return err
		}
	}
	prompt, err := s.settings.Render(ctx, r.Job.TenantID, PromptType,
		map[string]any{"Prompt": in.Prompt, "Duration": in.Duration, "AspectRatio": in.AspectRatio})
	if err != nil {
		return jobs.FailureFrom("render the video prompt", err, isUnavailable)
	}
	in.Prompt = prompt
	// The site must exist before the provider is paid for a video.
	if _, err := s.content.GetSite(ctx, r.Job.TenantID, *r.Job.SiteID); err != nil {
		return jobs.FailureFrom("read the job's site", err, isUnavailable)
	}
	// The row comes first, so a rerun never places a second request.
	if err := s.insert(ctx, r.Job, model); err != nil {
		return err
	}
	placed, err := client.Submit(ctx, model, providerInput(in, model, image), s.cfg.WebhookURL(settings.Fal))
	if err != nil {
		if errors.Is(err, video.ErrAnswerLost) || ctx.Err() != nil {
			return errSubmitLost(err)
		}
		if derr := s.forget(ctx, r.Job.ID); derr != nil {
			return derr // the row stays: the rerun ends provider_submit_lost rather than risk a double
		}
		return providerFailure("submit the video request", err) // refused: nothing queued, a retry may submit
	}
	if err := s.placed(ctx, r.Job.ID, placed); err != nil {
		// Without the request id a rerun cannot follow it; cancel it.
		_ = client.Cancel(context.WithoutCancel(ctx), model, placed.ID)
		return err
	}
	_ = r.Progress(ctx, 5, fmt.Sprintf("queued at the video provider (request %s, position %d)", placed.ID, placed.QueuePosition))
	return jobs.Await(s.cfg.PollInterval)
}

// check looks at a placed request: done, it fetches the video; still
// working, it reports progress and parks again; too long, it gives up.
func (s *Service) check(ctx context.Context, r *jobs.Run, client *video.Client, in Input, req request) (any, error) {
	if req.mediaID != nil {
		return s.finished(ctx, r, req, in)
	}
	if req.webhookStatus == nil {
		st, err := client.Status(ctx, req.model, req.requestID)
		if err != nil {
			return nil, providerFailure("check the video request", err)
		}
		if !st.Done() {
			return nil, s.waitMore(ctx, r, client, req, st)
		}
	} else if *req.webhookStatus == video.WebhookError {
		s.log.InfoContext(ctx, "video provider reported an error by webhook", "job_id", r.Job.ID, "error", deref(req.webhookError))
	}
	return s.download(ctx, r, client, in, req)
}

// waitMore records the provider's progress and parks the job again, or
// cancels the request once it has waited MaxWait.
func (s *Service) waitMore(ctx context.Context, r *jobs.Run, client *video.Client, req request, st video.Status) error {
	if time.Since(req.submittedAt) > s.cfg.MaxWait {
		_ = client.Cancel(ctx, req.model, req.requestID)
		return jobs.Permanent("provider_timeout", fmt.Sprintf("the video provider did not finish within %s; the request was canceled", s.cfg.MaxWait), nil)
	}
	if err := s.saveState(ctx, r.Job.ID, st); err != nil {
		return err
	}
	msg := "the video provider is generating the video"
	percent := 50
	if st.State == video.StateInQueue {
		msg, percent = fmt.Sprintf("waiting in the video provider's queue (position %d)", st.QueuePosition), 10
	}
	_ = r.Progress(ctx, percent, msg)
	return jobs.Await(s.cfg.PollInterval)
}

// download fetches the finished video into the site's media, once.
func (s *Service) download(ctx context.Context, r *jobs.Run, client *video.Client, in Input, req request) (any, error) {
	res, err := client.Result(ctx, req.model, req.requestID)
	if err != nil {
		return nil, providerFailure("fetch the video result", err)
	}
	_ = r.Progress(ctx, 80, "downloading the video")
	file := res.Video()
	data, _, err := client.Download(ctx, file.URL, s.content.MediaMaxBytes())
	if err != nil {
		return nil, providerFailure("download the video", err)
	}
	title := clip(in.Prompt, 200)
	meta := content.MediaInput{Filename: "video-" + r.Job.ID + ".mp4", Title: &title}
	m, err := s.content.CreateMediaFromJob(ctx, r.Job.TenantID, deref(r.Job.SiteID), r.Job.ID, 0, data, meta)
	if err != nil {
		return nil, jobs.FailureFrom("store the video", err, isUnavailable)
	}
	if _, err := s.db.Exec(ctx, `UPDATE video_requests SET media_id = $2, state = 'COMPLETED', updated_at = now() WHERE job_id = $1`,
		r.Job.ID, m.ID); err != nil {
		return nil, fmt.Errorf("record the video of job %s: %w", r.Job.ID, err)
	}
	req.mediaID = &m.ID
	return s.result(r, req, in, m, res.Seconds), nil
}

// finished answers a rerun of a job whose video is already stored.
func (s *Service) finished(ctx context.Context, r *jobs.Run, req request, in Input) (any, error) {
	m, err := s.content.GetMedia(ctx, r.Job.TenantID, deref(r.Job.SiteID), *req.mediaID)
	if err != nil {
		return nil, fmt.Errorf("read the video of job %s: %w", r.Job.ID, err)
	}
	return s.result(r, req, in, m, 0), nil
}

// result charges the seconds made (never more than asked) and describes
// the video.
func (s *Service) result(r *jobs.Run, req request, in Input, m content.Media, seconds float64) Result {
	if seconds <= 0 || seconds > float64(in.Duration) {
		seconds = float64(in.Duration)
	}
	r.SetUsage(int64(float64(r.Job.Credits.Reserved) * seconds / float64(in.Duration)))
	return Result{MediaID: m.ID, Media: m, Model: req.model, ProviderRequestID: req.requestID, Seconds: seconds}
}

// cancelUpstream cancels a canceled job's request in the provider's queue
// (the engine calls it when a parked job is canceled).
func (s *Service) cancelUpstream(ctx context.Context, j jobs.Job) error {
	req, found, err := s.load(ctx, j.ID)
	if err != nil || !found || req.mediaID != nil {
		return err
	}
	client, _, err := s.client(ctx, j.TenantID)
	if err != nil {
		return err
	}
	if err := client.Cancel(ctx, req.model, req.requestID); err != nil && !errors.Is(err, video.ErrAlreadyCompleted) {
		return fmt.Errorf("cancel video request %s: %w", req.requestID, err)
	}
	_, err = s.db.Exec(ctx, `UPDATE video_requests SET state = 'CANCELED', updated_at = now() WHERE job_id = $1`, j.ID)
	return err
}

// providerFailure maps a provider error to the job's failure: transient
// ones are retried, the rest (content_rejected, provider_auth_failed,
// provider_request_rejected) end the job; none is charged.
func providerFailure(doing string, err error) error {
	return jobs.FailureFrom(doing, err, ai.IsTransient)
}

func (s *Service) load(ctx context.Context, jobID string) (request, bool, error) {
	var r request
	err := s.db.QueryRow(ctx, `SELECT model, coalesce(request_id, ''), state, queue_position, webhook_status, webhook_error, media_id, submitted_at
		FROM video_requests WHERE job_id = $1`, jobID).
		Scan(&r.model, &r.requestID, &r.state, &r.queuePosition, &r.webhookStatus, &r.webhookError, &r.mediaID, &r.submittedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return request{}, false, nil
	}
	if err != nil {
		return request{}, false, fmt.Errorf("read the video request of job %s: %w", jobID, err)
	}
	return r, true, nil
}

// insert records a request about to be placed (no request id yet).
func (s *Service) insert(ctx context.Context, j jobs.Job, model string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO video_requests (job_id, tenant_id, provider, model, state)
		VALUES ($1, $2, $3, $4, 'SUBMITTING')`, j.ID, j.TenantID, settings.Fal, model)
	if err != nil {
		return fmt.Errorf("record the video request of job %s: %w", j.ID, err)
	}
	return nil
}

// placed records the provider's id of the request.
func (s *Service) placed(ctx context.Context, jobID string, placed video.Request) error {
	_, err := s.db.Exec(ctx, `UPDATE video_requests SET request_id = $2, queue_position = $3, state = 'IN_QUEUE', updated_at = now()
		WHERE job_id = $1`, jobID, placed.ID, placed.QueuePosition)
	if err != nil {
		return fmt.Errorf("record the request id of job %s: %w", jobID, err)
	}
	return nil
}

// forget removes a request the provider refused (nothing was queued).
func (s *Service) forget(ctx context.Context, jobID string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM video_requests WHERE job_id = $1 AND request_id IS NULL`, jobID); err != nil {
		return fmt.Errorf("forget the refused video request of job %s: %w", jobID, err)
	}
	return nil
}

// isUnavailable reports a dependency outage worth another attempt.
func isUnavailable(err error) bool {
	p, ok := problem.As(err)
	return ok && (p.Kind == problem.Unavailable || p.Kind == problem.Unknown)
}

func (s *Service) saveState(ctx context.Context, jobID string, st video.Status) error {
	_, err := s.db.Exec(ctx, `UPDATE video_requests SET state = $2, queue_position = $3, updated_at = now() WHERE job_id = $1`,
		jobID, string(st.State), st.QueuePosition)
	if err != nil {
		return fmt.Errorf("record the video request's state of job %s: %w", jobID, err)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
