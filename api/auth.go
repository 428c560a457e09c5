package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/problem"
)

type signupRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	Name       string `json:"name"`
	TenantName string `json:"tenant_name"`
}

// signup creates a tenant and its owner, and logs the owner in.
func (s *Server) signup(c *gin.Context) {
	if !s.cfg.SignupEnabled {
		s.fail(c, problem.New(problem.Forbidden, "signup_disabled", "self-service signup is turned off here; ask an administrator for an account"))
		return
	}
	var req signupRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	m, t, err := s.identity.Signup(ctx, identity.SignupInput{Email: req.Email, Password: req.Password, Name: req.Name, TenantName: req.TenantName})
	if err != nil {
		s.fail(c, err)
		return
	}
	tokens, err := s.identity.Login(ctx, req.Email, req.Password, t.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"user": m.User, "tenant": t, "role": m.Role,
		"access_token": tokens.AccessToken, "refresh_token": tokens.RefreshToken,
		"token_type": tokens.TokenType, "expires_in": tokens.ExpiresIn})
}

// tokenRequest is the union of the OAuth2 token request fields this API
// accepts, as JSON or as an application/x-www-form-urlencoded form.
type tokenRequest struct {
	GrantType    string `json:"grant_type" form:"grant_type"`
	Email        string `json:"email" form:"email"`
	Username     string `json:"username" form:"username"`
	Password     string `json:"password" form:"password"`
	TenantID     string `json:"tenant_id" form:"tenant_id"`
	RefreshToken string `json:"refresh_token" form:"refresh_token"`
	ClientID     string `json:"client_id" form:"client_id"`
	ClientSecret string `json:"client_secret" form:"client_secret"`
}

// readTokenRequest reads JSON or an OAuth2 form, whichever was sent.
func readTokenRequest(c *gin.Context) (tokenRequest, error) {
	var req tokenRequest
	if strings.HasPrefix(c.ContentType(), "application/x-www-form-urlencoded") {
		if err := c.Request.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return req, err
			}
			return req, problem.New(problem.Malformed, "malformed_form", "the form body could not be read: "+err.Error())
		}
		f := c.Request.PostForm
		req = tokenRequest{GrantType: f.Get("grant_type"), Email: f.Get("email"), Username: f.Get("username"),
			Password: f.Get("password"), TenantID: f.Get("tenant_id"), RefreshToken: f.Get("refresh_token"),
			ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret")}
	} else if err := bindJSON(c, &req); err != nil {
		return req, err
	}
	if req.Email == "" {
		req.Email = req.Username
	}
	if id, secret, ok := c.Request.BasicAuth(); ok && req.ClientID == "" {
		req.ClientID, req.ClientSecret = id, secret
	}
	return req, nil
}

// login takes {email, password} as JSON or the OAuth2 password form
// (username, password, grant_type=password).
func (s *Server) login(c *gin.Context) {
	req, err := readTokenRequest(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if req.GrantType != "" && req.GrantType != "password" {
		s.fail(c, fieldProblem("grant_type", "must be password on this route; use /api/v1/auth/token for other grants"))
		return
	}
	s.passwordGrant(c, req)
}

func (s *Server) passwordGrant(c *gin.Context, req tokenRequest) {
	var f problem.FieldErrors
	f.Check(req.Email == "", "email", "is required (or username in the OAuth2 form)")
	f.Check(req.Password == "", "password", "is required")
	if err := f.Err(); err != nil {
		s.fail(c, err)
		return
	}
	tokens, err := s.identity.Login(c.Request.Context(), req.Email, req.Password, req.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if p, err := s.identity.Authenticate(c.Request.Context(), tokens.AccessToken); err == nil && p.PlatformAdmin {
		s.setConsoleCookie(c, tokens) // a browser login opens the queue dashboard too
	}
	writeTokens(c, tokens)
}

// refresh rotates a refresh token.
func (s *Server) refresh(c *gin.Context) {
	req, err := readTokenRequest(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.refreshGrant(c, req)
}

func (s *Server) refreshGrant(c *gin.Context, req tokenRequest) {
	if req.RefreshToken == "" {
		s.fail(c, fieldProblem("refresh_token", "is required"))
		return
	}
	tokens, err := s.identity.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeTokens(c, tokens)
}

// token is the OAuth2 token endpoint: client_credentials for service
// accounts, and password and refresh_token for completeness.
func (s *Server) token(c *gin.Context) {
	req, err := readTokenRequest(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	switch req.GrantType {
	case "client_credentials":
		s.clientCredentialsGrant(c, req)
	case "password":
		s.passwordGrant(c, req)
	case "refresh_token":
		s.refreshGrant(c, req)
	default:
		s.fail(c, fieldProblem("grant_type", "must be client_credentials, password or refresh_token"))
	}
}

func (s *Server) clientCredentialsGrant(c *gin.Context, req tokenRequest) {
	var f problem.FieldErrors
	f.Check(req.ClientID == "", "client_id", "is required (or HTTP Basic auth)")
	f.Check(req.ClientSecret == "", "client_secret", "is required (or HTTP Basic auth)")
	if err := f.Err(); err != nil {
		s.fail(c, err)
		return
	}
	tokens, err := s.identity.ClientCredentials(c.Request.Context(), req.ClientID, req.ClientSecret)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeTokens(c, tokens)
}

// logout ends the caller's session.
func (s *Server) logout(c *gin.Context) {
	p := caller(c)
	if p.SessionID == "" {
		s.fail(c, problem.New(problem.Invalid, "not_a_session", "this credential is not a login session; revoke API keys with DELETE /api/v1/api-keys/{id}"))
		return
	}
	if err := s.identity.Logout(c.Request.Context(), p.SessionID); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// me describes the caller: who, in which tenant, with which role.
func (s *Server) me(c *gin.Context) {
	p := caller(c)
	ctx := c.Request.Context()
	body := gin.H{"principal": gin.H{"kind": p.Kind, "id": p.ID, "name": p.Name},
		"role": nilIfEmpty(string(p.Role)), "platform_admin": p.PlatformAdmin, "user": nil, "tenant": nil}
	if p.Kind == identity.KindAPIKey {
		body["scopes"] = p.Scopes
	}
	if p.Kind == identity.KindUser {
		body["user"] = gin.H{"id": p.UserID, "email": p.Email, "name": p.Name, "platform_admin": p.PlatformAdmin}
	}
	if p.TenantID != "" {
		t, err := s.identity.GetTenant(ctx, p.TenantID)
		if err != nil {
			s.fail(c, err)
			return
		}
		body["tenant"] = t
	}
	c.JSON(http.StatusOK, body)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// setupStatus says whether the first platform admin still has to be made.
func (s *Server) setupStatus(c *gin.Context) {
	needed, err := s.identity.SetupNeeded(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"platform_admin_exists": !needed, "setup_required": needed})
}

type setupRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	Name       string `json:"name"`
	SetupToken string `json:"setup_token"`
}

// setup creates the first platform admin with the one-time setup token.
func (s *Server) setup(c *gin.Context) {
	var req setupRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.SetupToken == "" {
		s.fail(c, fieldProblem("setup_token", "is required: the server logged it at its first start (or set KILN_SETUP_TOKEN)"))
		return
	}
	u, err := s.identity.CompleteSetup(c.Request.Context(), req.Email, req.Password, req.Name, req.SetupToken, s.cfg.SetupToken)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"user": u})
}

func fieldProblem(field, reason string) error {
	var f problem.FieldErrors
	f.Add(field, reason)
	return f.Err()
}

// writeTokens answers a token grant; tokens must never be cached
// (RFC 6749 section 5.1).
func writeTokens(c *gin.Context, tokens identity.Tokens) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, tokens)
}
