package settings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
)

// CheckResult is the answer of a key check: whether the provider accepted
// the key, and which configured models it serves.
type CheckResult struct {
	Provider string `json:"provider"`
	OK       bool   `json:"ok"`
	// Code and Message say why the check failed (provider_auth_failed,
	// provider_unavailable, ...).
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Models says, per capability, whether the provider lists its model;
	// only for providers that list models.
	Models map[ai.Capability]ModelCheck `json:"models,omitempty"`
}

// ModelCheck is one configured model and whether the provider lists it.
type ModelCheck struct {
	Model     string `json:"model"`
	Available bool   `json:"available"`
}

// VideoChecker checks a video provider key; the video client implements it.
type VideoChecker func(ctx context.Context, in Integration) error

// Check tries the tenant's integration for provider, with the changes in
// override applied first (so a key can be checked before it is saved). A
// key the provider refuses is an answer (OK false), not an error.
func (s *Service) Check(ctx context.Context, tenantID, provider string, override IntegrationInput, video VideoChecker) (CheckResult, error) {
	in, err := s.Integration(ctx, tenantID, provider)
	if err != nil {
		return CheckResult{}, err
	}
	if err := override.check(provider); err != nil {
		return CheckResult{}, err
	}
	in = override.over(in).withoutForeignKey()
	res := CheckResult{Provider: provider}
	if !in.Configured() {
		return res, notConfigured(capabilitiesOf[provider][0])
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	switch provider {
	case OpenAI:
		err = s.checkOpenAI(ctx, in, &res)
	case Fal:
		if video == nil {
			return CheckResult{}, errors.New("no video checker")
		}
		err = video(ctx, in)
	}
	return res.with(err), nil
}

// checkOpenAI lists the provider's models and marks the configured ones.
func (s *Service) checkOpenAI(ctx context.Context, in Integration, res *CheckResult) error {
	p, err := s.providerFor(in)
	if err != nil {
		return err
	}
	ids, err := p.ListModels(ctx)
	if err != nil {
		return err
	}
	res.Models = map[ai.Capability]ModelCheck{}
	for c, m := range in.Models {
		if m != "" {
			res.Models[c] = ModelCheck{Model: m, Available: slices.Contains(ids, m)}
		}
	}
	return nil
}

// with records err's code and message, or OK.
func (r CheckResult) with(err error) CheckResult {
	if err == nil {
		r.OK = true
		return r
	}
	if p, ok := problem.As(err); ok {
		r.Code, r.Message = p.Code, p.Message
	} else {
		r.Code, r.Message = "provider_check_failed", fmt.Sprint(err)
	}
	return r
}

// over returns in with the body's fields applied, without storing them.
func (o IntegrationInput) over(in Integration) Integration {
	if o.APIKey != nil {
		in.APIKey, in.Source = *o.APIKey, "tenant"
	}
	if o.BaseURL != nil && *o.BaseURL != "" {
		in.BaseURL, in.TenantURL = *o.BaseURL, true
	}
	if o.Azure != nil {
		in.Azure = *o.Azure
	}
	if o.APIVersion != nil {
		in.APIVersion = *o.APIVersion
	}
	for c, m := range o.Models {
		in.Models[ai.Capability(c)] = m
	}
	return in
}
