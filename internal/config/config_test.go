package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDefaults(t *testing.T) {
	c, err := load(ModeDev, env(nil))
	if err != nil {
		t.Fatalf("dev with an empty environment: %v", err)
	}
	if c.HTTPAddr != ":8080" || c.AccessTokenTTL != 15*time.Minute || !c.SignupEnabled || c.MaxBodyBytes != 1<<20 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	secret := strings.Repeat("s", 32)
	tests := []struct {
		mode Mode
		vars map[string]string
		want string
	}{
		{ModeAPI, map[string]string{}, "KILN_JWT_SECRET is required"},
		{ModeAPI, map[string]string{"KILN_JWT_SECRET": "short"}, "KILN_JWT_SECRET must be at least 32 bytes"},
		{ModeAPI, map[string]string{"KILN_JWT_SECRET": secret, "DATABASE_URL": "mysql://x"}, "DATABASE_URL must be a postgres:// URL"},
		{ModeDev, map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL must be a redis:// URL"},
		{ModeDev, map[string]string{"KILN_HTTP_ADDR": "8080"}, "KILN_HTTP_ADDR must be host:port"},
		{ModeDev, map[string]string{"KILN_ACCESS_TOKEN_TTL": "forever"}, "KILN_ACCESS_TOKEN_TTL must be a positive duration"},
		{ModeDev, map[string]string{"KILN_SIGNUP_ENABLED": "maybe"}, "KILN_SIGNUP_ENABLED must be true or false"},
		{ModeDev, map[string]string{"KILN_MAX_BODY_BYTES": "-1"}, "KILN_MAX_BODY_BYTES must be a positive whole number"},
		{ModeDev, map[string]string{"KILN_LOG_LEVEL": "loud"}, "KILN_LOG_LEVEL must be one of debug, info, warn, error"},
		{ModeDev, map[string]string{"KILN_SETUP_TOKEN": "abc"}, "KILN_SETUP_TOKEN must be at least 16 characters"},
		{ModeDev, map[string]string{"KILN_PUBLIC_URL": "localhost"}, "KILN_PUBLIC_URL must be a http:// URL"},
	}
	for _, tt := range tests {
		_, err := load(tt.mode, env(tt.vars))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v: err = %v, want it to contain %q", tt.mode, tt.vars, err, tt.want)
		}
	}
}

func TestAllErrorsAreReportedAtOnce(t *testing.T) {
	_, err := load(ModeAPI, env(map[string]string{"KILN_LOG_LEVEL": "loud", "KILN_HTTP_ADDR": "nope"}))
	for _, name := range []string{"KILN_LOG_LEVEL", "KILN_HTTP_ADDR", "KILN_JWT_SECRET"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("err = %v, want it to name %s", err, name)
		}
	}
}

func TestJWTSecretOnlyRequiredForTheAPI(t *testing.T) {
	for _, m := range []Mode{ModeWorker, ModeScheduler, ModeMigrate, ModeDev, ModeAdmin} {
		if _, err := load(m, env(nil)); err != nil {
			t.Errorf("%s without KILN_JWT_SECRET: %v", m, err)
		}
	}
}

// TestREADMEListsEveryVariable keeps the README's configuration table in
// step with Vars.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	for _, v := range Vars() {
		if !strings.Contains(string(readme), "| `"+v.Name+"` |") {
			t.Errorf("README's configuration table lacks %s", v.Name)
		}
	}
}
