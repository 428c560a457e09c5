package api_test

import (
	"net/http"
	"testing"
)

func TestRolesDecideWhatUsersMayDo(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	siteID := b.site(acme, "blog")
	viewer, _ := b.member(acme, "viewer")
	editor, _ := b.member(acme, "editor")
	admin, _ := b.member(acme, "admin")

	newSite := map[string]string{"name": "N", "slug": "n"}
	tests := []struct {
		name   string
		token  string
		r      req
		status int
	}{
		{"viewer reads sites", viewer, req{Method: "GET", Path: "/api/v1/sites/" + siteID}, http.StatusOK},
		{"viewer cannot create a site", viewer, req{Method: "POST", Path: "/api/v1/sites", Body: newSite}, http.StatusForbidden},
		{"viewer cannot update a site", viewer, req{Method: "PATCH", Path: "/api/v1/sites/" + siteID, Body: map[string]string{"name": "x"}}, http.StatusForbidden},
		{"viewer cannot delete a site", viewer, req{Method: "DELETE", Path: "/api/v1/sites/" + siteID}, http.StatusForbidden},
		{"viewer cannot list users", viewer, req{Method: "GET", Path: "/api/v1/users"}, http.StatusForbidden},
		{"viewer cannot create keys", viewer, req{Method: "POST", Path: "/api/v1/api-keys", Body: map[string]string{"name": "k"}}, http.StatusForbidden},
		{"editor updates a site", editor, req{Method: "PATCH", Path: "/api/v1/sites/" + siteID, Body: map[string]string{"name": "x"}}, http.StatusOK},
		{"editor cannot manage users", editor, req{Method: "POST", Path: "/api/v1/users", Body: map[string]string{"email": "x@example.com", "password": "password-123", "role": "viewer"}}, http.StatusForbidden},
		{"editor cannot manage service accounts", editor, req{Method: "GET", Path: "/api/v1/service-accounts"}, http.StatusForbidden},
		{"admin lists users", admin, req{Method: "GET", Path: "/api/v1/users"}, http.StatusOK},
		{"admin cannot create an owner", admin, req{Method: "POST", Path: "/api/v1/users", Body: map[string]string{"email": "o@example.com", "password": "password-123", "role": "owner"}}, http.StatusForbidden},
		{"admin cannot demote the owner", admin, req{Method: "PATCH", Path: "/api/v1/users/" + acme.OwnerID, Body: map[string]string{"role": "viewer"}}, http.StatusForbidden},
		{"admin cannot remove the owner", admin, req{Method: "DELETE", Path: "/api/v1/users/" + acme.OwnerID}, http.StatusForbidden},
		{"tenant owner is not a platform admin", acme.Token, req{Method: "GET", Path: "/api/v1/admin/tenants"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Auth = tt.token
			res := b.expect(tt.status, tt.r)
			if tt.status == http.StatusForbidden && res.ErrorCode(t) != "forbidden" {
				t.Fatalf("code = %q, want forbidden", res.ErrorCode(t))
			}
		})
	}
	// Nothing the viewer tried was written.
	site := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/" + siteID, Auth: viewer}).JSON(t)
	if site["name"] != "x" {
		t.Fatalf("site name = %v, want the editor's change only", site["name"])
	}
}

func TestUsersCRUD(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	created := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/users", Auth: acme.Token,
		Body: map[string]string{"email": "ed@example.com", "password": "password-123", "name": "Ed", "role": "editor"}}).JSON(t)
	id := created["id"].(string)
	if created["role"] != "editor" || created["email"] != "ed@example.com" {
		t.Fatalf("created = %v", created)
	}
	if _, has := created["password_hash"]; has {
		t.Fatal("user answer shows the password hash")
	}
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/users", Auth: acme.Token}).JSON(t)
	if n := len(list["data"].([]any)); n != 2 {
		t.Fatalf("%d users listed, want 2", n)
	}
	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/users/" + id, Auth: acme.Token,
		Body: map[string]string{"role": "admin", "name": "Edward"}}).JSON(t)
	if up["role"] != "admin" || up["name"] != "Edward" {
		t.Fatalf("updated = %v", up)
	}
	b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/users", Auth: acme.Token,
		Body: map[string]string{"email": "ed@example.com", "password": "password-123", "role": "viewer"}})
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/users", Auth: acme.Token,
		Body: map[string]string{"email": "x@example.com", "password": "password-123", "role": "god"}})
	if bad.Fields(t)["role"] == nil {
		t.Fatalf("bad role: %s", bad.Body)
	}
	// The last owner can be neither demoted nor removed, even by themselves.
	res := b.expect(http.StatusConflict, req{Method: "PATCH", Path: "/api/v1/users/" + acme.OwnerID, Auth: acme.Token, Body: map[string]string{"role": "viewer"}})
	if res.ErrorCode(t) != "last_owner" {
		t.Fatalf("code = %q, want last_owner", res.ErrorCode(t))
	}
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/users/" + id, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/users/" + id, Auth: acme.Token})
	b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": "ed@example.com", "password": "password-123"}})
}

func TestPlatformAdminManagesTenants(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	root := b.platformAdmin()

	// A platform admin without a tenant has no tenant routes.
	if res := b.expect(http.StatusForbidden, req{Method: "GET", Path: "/api/v1/sites", Auth: root}); res.ErrorCode(t) != "no_tenant" {
		t.Fatalf("code = %q, want no_tenant", res.ErrorCode(t))
	}
	created := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/admin/tenants", Auth: root,
		Body: map[string]string{"name": "Globex", "slug": "globex"}}).JSON(t)
	if created["slug"] != "globex" || created["status"] != "active" {
		t.Fatalf("created = %v", created)
	}
	b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/admin/tenants", Auth: root, Body: map[string]string{"name": "G", "slug": "globex"}})
	b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/admin/tenants", Auth: root, Body: map[string]string{"name": "G", "slug": "Not A Slug"}})
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/admin/tenants?limit=1", Auth: root}).JSON(t)
	if len(list["data"].([]any)) != 1 || list["next_cursor"] == nil {
		t.Fatalf("first page = %v, want one tenant and a cursor", list)
	}
	renamed := b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/admin/tenants/" + acme.ID, Auth: root, Body: map[string]string{"name": "Acme Inc"}}).JSON(t)
	if renamed["name"] != "Acme Inc" {
		t.Fatalf("renamed = %v", renamed)
	}

	// Suspension locks the tenant's users out until it is resumed.
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/admin/tenants/" + acme.ID + "/suspend", Auth: root})
	if res := b.expect(http.StatusForbidden, req{Method: "GET", Path: "/api/v1/sites", Auth: acme.Token}); res.ErrorCode(t) != "tenant_suspended" {
		t.Fatalf("code = %q, want tenant_suspended", res.ErrorCode(t))
	}
	if res := b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": acme.Email, "password": "password-123"}}); res.ErrorCode(t) != "tenant_suspended" {
		t.Fatalf("login to a suspended tenant: code = %q, want tenant_suspended", res.ErrorCode(t))
	}
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/admin/tenants/" + acme.ID + "/resume", Auth: root})
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites", Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/admin/tenants/ten_nope", Auth: root})
}
