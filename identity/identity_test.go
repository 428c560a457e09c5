package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/testkit"
)

const testSecret = "test-secret-that-is-at-least-32-bytes-long"

func newService(t *testing.T) *identity.Service {
	t.Helper()
	db := testkit.NewDB(t)
	s, err := identity.New(db.Pool, testkit.Logger(t), identity.Config{
		JWTSecret: testSecret, Issuer: "kiln", Audience: "kiln-api",
		AccessTTL: time.Minute, RefreshTTL: time.Hour,
	})
	testkit.Must(t, "new identity service", err)
	return s
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := identity.HashPassword("correct horse")
	testkit.Must(t, "hash", err)
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false} {
		ok, err := identity.CheckPassword(h, pw)
		testkit.Must(t, "check", err)
		if ok != want {
			t.Errorf("CheckPassword(%q) = %v, want %v", pw, ok, want)
		}
	}
}

func TestRefreshRotationAndReuseRevokesFamily(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	_, _, err := s.Signup(ctx, identity.SignupInput{Email: "a@example.com", Password: "password1", Name: "A", TenantName: "Acme"})
	testkit.Must(t, "signup", err)
	first, err := s.Login(ctx, "A@example.com", "password1", "")
	testkit.Must(t, "login", err)

	second, err := s.Refresh(ctx, first.RefreshToken)
	testkit.Must(t, "refresh", err)
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("refresh did not rotate the refresh token")
	}
	// Reusing the rotated token revokes the family: the new tokens die too.
	if _, err := s.Refresh(ctx, first.RefreshToken); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Fatalf("reuse of rotated token: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := s.Refresh(ctx, second.RefreshToken); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Fatalf("refresh after family revoked: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := s.Authenticate(ctx, second.AccessToken); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Fatalf("access token after family revoked: err = %v, want ErrUnauthenticated", err)
	}
}

func TestLoginWrongPasswordAndUnknownEmailLookTheSame(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	_, _, err := s.Signup(ctx, identity.SignupInput{Email: "a@example.com", Password: "password1", TenantName: "Acme"})
	testkit.Must(t, "signup", err)
	_, errWrong := s.Login(ctx, "a@example.com", "wrong-password", "")
	_, errUnknown := s.Login(ctx, "nobody@example.com", "wrong-password", "")
	if !errors.Is(errWrong, identity.ErrInvalidCredentials) || !errors.Is(errUnknown, identity.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v; unknown email: %v; want both ErrInvalidCredentials", errWrong, errUnknown)
	}
	if errWrong.Error() != errUnknown.Error() {
		t.Fatalf("errors differ: %q vs %q", errWrong, errUnknown)
	}
}

func TestLastOwnerCannotBeDemotedOrRemoved(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	owner, tenant, err := s.Signup(ctx, identity.SignupInput{Email: "o@example.com", Password: "password1", TenantName: "Acme"})
	testkit.Must(t, "signup", err)
	viewer := identity.RoleViewer
	if _, err := s.UpdateMember(ctx, tenant.ID, owner.ID, identity.MemberUpdate{Role: &viewer}); !errors.Is(err, identity.ErrLastOwner) {
		t.Fatalf("demote last owner: err = %v, want ErrLastOwner", err)
	}
	if err := s.RemoveMember(ctx, tenant.ID, owner.ID); !errors.Is(err, identity.ErrLastOwner) {
		t.Fatalf("remove last owner: err = %v, want ErrLastOwner", err)
	}
}

func TestSetupTokenIsStableAndOneTime(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	tok1, err := s.SetupToken(ctx, "")
	testkit.Must(t, "setup token", err)
	tok2, err := s.SetupToken(ctx, "")
	testkit.Must(t, "setup token again", err)
	if tok1 == "" || tok1 != tok2 {
		t.Fatalf("setup tokens %q and %q: want one stable, non-empty token", tok1, tok2)
	}
	if _, err := s.CompleteSetup(ctx, "root@example.com", "password1", "", "wrong", ""); !errors.Is(err, identity.ErrSetupToken) {
		t.Fatalf("wrong setup token: err = %v, want ErrSetupToken", err)
	}
	u, err := s.CompleteSetup(ctx, "root@example.com", "password1", "Root", tok1, "")
	testkit.Must(t, "complete setup", err)
	if !u.PlatformAdmin {
		t.Fatal("setup created a user who is not a platform admin")
	}
	if _, err := s.CompleteSetup(ctx, "other@example.com", "password1", "", tok1, ""); !errors.Is(err, identity.ErrSetupDone) {
		t.Fatalf("second setup: err = %v, want ErrSetupDone", err)
	}
	if tok, _ := s.SetupToken(ctx, ""); tok != "" {
		t.Fatalf("setup token after setup = %q, want none", tok)
	}
}

// TestAPIKeyCacheHonoursRevocation: a process forgets a key it revoked at
// once; another process stops accepting it when its cache entry ends.
func TestAPIKeyCacheHonoursRevocation(t *testing.T) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	cfg := identity.Config{JWTSecret: testSecret, Issuer: "kiln", Audience: "kiln-api",
		AccessTTL: time.Minute, RefreshTTL: time.Hour, APIKeyCacheTTL: 300 * time.Millisecond}
	a, err := identity.New(db.Pool, testkit.Logger(t), cfg)
	testkit.Must(t, "service a", err)
	b, err := identity.New(db.Pool, testkit.Logger(t), cfg)
	testkit.Must(t, "service b", err)
	owner, tenant, err := a.Signup(ctx, identity.SignupInput{Email: "o@example.com", Password: "password1", TenantName: "Acme"})
	testkit.Must(t, "signup", err)
	by := identity.Principal{TenantID: tenant.ID, UserID: owner.ID, Role: identity.RoleOwner}
	k, secret, err := a.CreateAPIKey(ctx, by, identity.NewAPIKey{Name: "k"})
	testkit.Must(t, "create key", err)
	for _, s := range []*identity.Service{a, b} {
		_, err := s.Authenticate(ctx, secret)
		testkit.Must(t, "authenticate", err)
	}
	testkit.Must(t, "revoke", a.RevokeAPIKey(ctx, tenant.ID, k.ID))
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Fatalf("revoking process still accepts the key: %v", err)
	}
	time.Sleep(350 * time.Millisecond)
	if _, err := b.Authenticate(ctx, secret); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Fatalf("other process accepts the key after its cache entry ended: %v", err)
	}
}
