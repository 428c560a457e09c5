package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
)

// IntegrationView is what the API shows of a tenant's integration: the
// effective settings, with the key masked.
type IntegrationView struct {
	Provider string `json:"provider"`
	// BaseURL and Models are the effective values: the tenant's, else the
	// deployment's.
	BaseURL    string                   `json:"base_url"`
	Azure      bool                     `json:"azure"`
	APIVersion string                   `json:"api_version"`
	Models     map[ai.Capability]string `json:"models"`
	// APIKey is the masked key ("…abcd"), or "" when none is set.
	APIKey string `json:"api_key"`
	// KeySource is "tenant", "deployment" or "none".
	KeySource    string          `json:"key_source"`
	Capabilities []ai.Capability `json:"capabilities"`
	// TenantOverrides names the fields the tenant set itself.
	TenantOverrides []string   `json:"tenant_overrides"`
	UpdatedAt       *time.Time `json:"updated_at"`
}

// IntegrationInput is a PUT body: nil leaves a field as it is; an empty
// api_key or base_url removes the tenant's value (falling back to the
// deployment's); a model set to "" removes the tenant's model.
type IntegrationInput struct {
	BaseURL    *string           `json:"base_url"`
	APIKey     *string           `json:"api_key"`
	Azure      *bool             `json:"azure"`
	APIVersion *string           `json:"api_version"`
	Models     map[string]string `json:"models"`
}

// stored is a tenant's row.
type stored struct {
	baseURL, hint, apiVersion string
	sealed                    []byte
	azure                     bool
	models                    map[ai.Capability]string
	updatedAt                 time.Time
}

// load reads a tenant's row for provider; ok is false when there is none.
func (s *Service) load(ctx context.Context, tenantID, provider string) (stored, bool, error) {
	var st stored
	var models []byte
	err := s.db.QueryRow(ctx, `SELECT base_url, api_key_sealed, api_key_hint, azure, api_version, models, updated_at
		FROM tenant_integrations WHERE tenant_id = $1 AND provider = $2`, tenantID, provider).
		Scan(&st.baseURL, &st.sealed, &st.hint, &st.azure, &st.apiVersion, &models, &st.updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return stored{}, false, nil
	}
	if err != nil {
		return stored{}, false, fmt.Errorf("read %s settings of tenant %s: %w", provider, tenantID, err)
	}
	if err := json.Unmarshal(models, &st.models); err != nil {
		return stored{}, false, fmt.Errorf("decode %s models of tenant %s: %w", provider, tenantID, err)
	}
	return st, true, nil
}

// Integration returns the settings a tenant's job uses for provider: the
// tenant's fields over the deployment's defaults. A tenant key replaces
// the deployment's key and, unless the tenant set one, keeps the
// deployment's base URL.
func (s *Service) Integration(ctx context.Context, tenantID, provider string) (Integration, error) {
	if err := checkProvider(provider); err != nil {
		return Integration{}, err
	}
	in := s.deployment(provider)
	st, ok, err := s.load(ctx, tenantID, provider)
	if err != nil || !ok {
		return in, err
	}
	if st.sealed != nil {
		if s.sealer == nil {
			return Integration{}, ErrEncryptionNotConfigured
		}
		key, err := s.sealer.open(st.sealed, tenantID, provider)
		if err != nil {
			return Integration{}, problem.New(problem.Unavailable, "integration_key_unreadable", err.Error())
		}
		in.APIKey, in.Source = key, "tenant"
	}
	if st.baseURL != "" {
		in.BaseURL, in.Azure, in.APIVersion, in.TenantURL = st.baseURL, st.azure, st.apiVersion, true
	}
	maps.Copy(in.Models, st.models)
	return in.withoutForeignKey(), nil
}

// withoutForeignKey drops the deployment's key from an integration whose
// base URL is the tenant's: the operator's key is never sent to a host a
// tenant chose. Such an integration needs the tenant's own key.
func (in Integration) withoutForeignKey() Integration {
	if in.TenantURL && in.Source != "tenant" {
		in.APIKey, in.Source = "", "none"
	}
	return in
}

// deployment returns a copy of the deployment's integration for provider.
func (s *Service) deployment(provider string) Integration {
	in := s.cfg.Defaults[provider]
	in.Provider = provider
	in.Models = maps.Clone(in.Models)
	if in.Models == nil {
		in.Models = map[ai.Capability]string{}
	}
	in.Source = "none"
	if in.APIKey != "" {
		in.Source = "deployment"
	}
	return in
}

// View returns what the API shows of a tenant's integration.
func (s *Service) View(ctx context.Context, tenantID, provider string) (IntegrationView, error) {
	if err := checkProvider(provider); err != nil {
		return IntegrationView{}, err
	}
	def := s.deployment(provider)
	st, ok, err := s.load(ctx, tenantID, provider)
	if err != nil {
		return IntegrationView{}, err
	}
	v := IntegrationView{Provider: provider, BaseURL: def.BaseURL, Azure: def.Azure, APIVersion: def.APIVersion,
		Models: def.Models, KeySource: def.Source, Capabilities: capabilitiesOf[provider], TenantOverrides: []string{}}
	// The deployment's key is the operator's: tenants see only that one
	// is set (key_source), not even its last characters.
	if !ok {
		return v, nil
	}
	v.UpdatedAt = &st.updatedAt
	if st.sealed != nil {
		v.APIKey, v.KeySource = st.hint, "tenant"
		v.TenantOverrides = append(v.TenantOverrides, "api_key")
	}
	if st.baseURL != "" {
		v.BaseURL, v.Azure, v.APIVersion = st.baseURL, st.azure, st.apiVersion
		v.TenantOverrides = append(v.TenantOverrides, "base_url")
		if st.sealed == nil {
			v.KeySource = "none" // the deployment's key never goes to the tenant's URL
		}
	}
	for _, c := range slices.Sorted(maps.Keys(st.models)) {
		v.Models[c] = st.models[c]
		v.TenantOverrides = append(v.TenantOverrides, "models."+string(c))
	}
	return v, nil
}

// Put changes a tenant's integration (see IntegrationInput) and returns
// the new view. Storing a key needs KILN_ENCRYPTION_KEY.
func (s *Service) Put(ctx context.Context, tenantID, provider string, in IntegrationInput) (IntegrationView, error) {
	if err := checkProvider(provider); err != nil {
		return IntegrationView{}, err
	}
	if err := in.check(provider); err != nil {
		return IntegrationView{}, err
	}
	st, _, err := s.load(ctx, tenantID, provider)
	if err != nil {
		return IntegrationView{}, err
	}
	if err := s.apply(&st, in, tenantID, provider); err != nil {
		return IntegrationView{}, err
	}
	models, _ := json.Marshal(st.models)
	_, err = s.db.Exec(ctx, `INSERT INTO tenant_integrations (tenant_id, provider, base_url, api_key_sealed, api_key_hint, azure, api_version, models)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, provider) DO UPDATE SET base_url = $3, api_key_sealed = $4, api_key_hint = $5,
			azure = $6, api_version = $7, models = $8, updated_at = now()`,
		tenantID, provider, st.baseURL, st.sealed, st.hint, st.azure, st.apiVersion, models)
	if err != nil {
		return IntegrationView{}, fmt.Errorf("save %s settings of tenant %s: %w", provider, tenantID, err)
	}
	s.log.InfoContext(ctx, "integration settings changed", "tenant_id", tenantID, "provider", provider)
	return s.View(ctx, tenantID, provider)
}

// apply merges a PUT body into the stored row, sealing a new key.
func (s *Service) apply(st *stored, in IntegrationInput, tenantID, provider string) error {
	if in.APIKey != nil {
		key := strings.TrimSpace(*in.APIKey)
		st.sealed, st.hint = nil, ""
		if key != "" {
			if s.sealer == nil {
				return ErrEncryptionNotConfigured
			}
			sealed, err := s.sealer.seal(key, tenantID, provider)
			if err != nil {
				return fmt.Errorf("encrypt the %s key: %w", provider, err)
			}
			st.sealed, st.hint = sealed, hint(key)
		}
	}
	if in.BaseURL != nil {
		st.baseURL = strings.TrimRight(strings.TrimSpace(*in.BaseURL), "/")
	}
	if in.Azure != nil {
		st.azure = *in.Azure
	}
	if in.APIVersion != nil {
		st.apiVersion = strings.TrimSpace(*in.APIVersion)
	}
	if st.models == nil {
		st.models = map[ai.Capability]string{}
	}
	for c, m := range in.Models {
		if m = strings.TrimSpace(m); m == "" {
			delete(st.models, ai.Capability(c))
		} else {
			st.models[ai.Capability(c)] = m
		}
	}
	return nil
}

// check validates a PUT body, naming each bad field.
func (in IntegrationInput) check(provider string) error {
	var f problem.FieldErrors
	if in.BaseURL != nil && *in.BaseURL != "" {
		u, err := url.Parse(strings.TrimSpace(*in.BaseURL))
		f.Check(err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "", "base_url", "must be an http or https URL")
	}
	if in.APIKey != nil {
		f.Check(len(*in.APIKey) > 512, "api_key", "must be at most 512 characters")
	}
	if in.APIVersion != nil {
		f.Check(len(*in.APIVersion) > 40, "api_version", "must be at most 40 characters")
	}
	for c, m := range in.Models {
		f.Check(!slices.Contains(capabilitiesOf[provider], ai.Capability(c)), "models."+c,
			fmt.Sprintf("is not a capability of %s; it serves %v", provider, capabilitiesOf[provider]))
		f.Check(len(m) > 200, "models."+c, "must be at most 200 characters")
	}
	return f.Err()
}

// Delete removes a tenant's settings for provider; the deployment's apply
// again.
func (s *Service) Delete(ctx context.Context, tenantID, provider string) error {
	if err := checkProvider(provider); err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM tenant_integrations WHERE tenant_id = $1 AND provider = $2`, tenantID, provider); err != nil {
		return fmt.Errorf("delete %s settings of tenant %s: %w", provider, tenantID, err)
	}
	return nil
}
