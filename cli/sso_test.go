package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity/oidctest"
)

// TestServeSingleSignOn starts `carepath serve` configured for an OpenID provider running on
// loopback: the sign-in page offers single sign-on, the provider's JWTs are accepted on the API
// with the roles the configured map grants, and a token the map grants nothing is refused.
func TestServeSingleSignOn(t *testing.T) {
	m := oidctest.Start(t)

	file := filepath.Join(t.TempDir(), "carepath.yaml")
	cfg := "auth:\n  oidc:\n    issuer: " + m.Issuer() + "\n    client_id: " + m.ClientID + "\n    client_secret: " + m.ClientSecret +
		"\n    redirect_url: http://127.0.0.1:8080/auth/oidc/callback\n    roles_claim: groups\n    role_map:\n      cp-clinicians: [clinician]\n"
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAREPATH_CONFIG", file)
	s := serve(t, databasetest.DSN(t, database.SQLite))

	resp, err := http.Get(s.url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `href="/auth/oidc/login"`) {
		t.Errorf("the sign-in page offers no single sign-on")
	}

	token := func(groups ...string) string {
		now := fixedNow()
		raw, err := m.Keypair.SignJWT(jwt.MapClaims{"iss": m.Issuer(), "sub": "u-nia", "aud": m.ClientID, "iat": now.Unix(),
			"exp": now.Add(10 * time.Minute).Unix(), "name": "Nia", "groups": groups})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	me := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", s.url+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := me(token("cp-clinicians"))
	var who struct {
		Subject string   `json:"subject"`
		Roles   []string `json:"roles"`
		Method  string   `json:"method"`
	}
	if err := json.Unmarshal([]byte(body), &who); status != http.StatusOK || err != nil || who.Subject != "oidc:u-nia" ||
		strings.Join(who.Roles, ",") != "clinician" || who.Method != "oidc" {
		t.Errorf("a provider JWT: %d %s", status, body)
	}
	if status, body := me(token("somebody-else")); status != http.StatusForbidden {
		t.Errorf("a JWT whose groups map to no role: %d %s", status, body)
	}
}
