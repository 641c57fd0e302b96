package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T, db *database.DB) *identity.SQLStore {
	t.Helper()
	s := identity.NewSQLStore(db)
	if _, err := s.AddTeam(context.Background(), "central", "Central", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(context.Background(), identity.NewUser{Username: "Alice", Roles: []identity.Role{identity.Clinician},
		Teams: []string{"central"}, Password: "correct horse battery"}, t0); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUsers(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		// One account, however the name is typed: "alice", "Alice" and " alice" are the same.
		for _, name := range []string{"alice", "ALICE", " alice "} {
			if _, err := s.AddUser(ctx, identity.NewUser{Username: name, Roles: []identity.Role{identity.Analyst}}, t0); failure.CodeOf(err) != failure.Conflict {
				t.Errorf("add %q again: %v, want a conflict", name, err)
			}
		}
		for _, tt := range []struct {
			nu    identity.NewUser
			field string
		}{
			{identity.NewUser{Username: "", Roles: []identity.Role{identity.Admin}}, "username"},
			{identity.NewUser{Username: "bob smith", Roles: []identity.Role{identity.Admin}}, "username"},
			{identity.NewUser{Username: "bob"}, "roles"},
			{identity.NewUser{Username: "bob", Roles: []identity.Role{"root"}}, "role"},
			{identity.NewUser{Username: "bob", Roles: []identity.Role{identity.Admin}, Teams: []string{"north"}}, "team"},
			{identity.NewUser{Username: "bob", Roles: []identity.Role{identity.Admin}, Password: "short"}, "password"},
		} {
			_, err := s.AddUser(ctx, tt.nu, t0)
			if failure.CodeOf(err) != failure.Invalid || !strings.HasPrefix(err.Error(), tt.field) {
				t.Errorf("add %+v: %v, want invalid %s", tt.nu, err, tt.field)
			}
		}
		if n, err := s.CountUsers(ctx); err != nil || n != 1 {
			t.Errorf("%d users after refused input (%v)", n, err)
		}
		u, err := s.SetRoles(ctx, "alice", []identity.Role{identity.Coordinator, identity.Clinician}, nil)
		if err != nil || strings.Join([]string{string(u.Roles[0]), string(u.Roles[1])}, ",") != "clinician,coordinator" || u.Teams[0] != "central" {
			t.Errorf("set roles: %+v %v", u, err)
		}
	})
}

func TestPasswordLockout(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		if _, err := s.CheckPassword(ctx, "Alice", "correct horse battery", t0); err != nil {
			t.Fatalf("right password: %v", err)
		}
		for i := range identity.MaxFailedSignIns {
			if _, err := s.CheckPassword(ctx, "alice", "wrong", t0.Add(time.Duration(i)*time.Second)); failure.CodeOf(err) != failure.Unauthenticated {
				t.Fatalf("wrong password: %v", err)
			}
		}
		if _, err := s.CheckPassword(ctx, "alice", "correct horse battery", t0.Add(time.Minute)); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("locked account signed in: %v", err)
		}
		// The same answer for a locked account, a wrong password and an unknown user.
		_, locked := s.CheckPassword(ctx, "alice", "correct horse battery", t0.Add(time.Minute))
		_, unknown := s.CheckPassword(ctx, "nobody", "correct horse battery", t0.Add(time.Minute))
		if locked.Error() != unknown.Error() {
			t.Errorf("locked %q and unknown %q answers differ", locked, unknown)
		}
		if _, err := s.CheckPassword(ctx, "alice", "correct horse battery", t0.Add(identity.LockoutPeriod+time.Minute)); err != nil {
			t.Errorf("after the lockout period: %v", err)
		}
		if err := s.Disable(ctx, "alice", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckPassword(ctx, "alice", "correct horse battery", t0.Add(2*identity.LockoutPeriod)); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("disabled account signed in: %v", err)
		}
	})
}

func TestSessionsExpire(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		c := &clock{t: t0}
		a := identity.NewAuthenticator(newStore(t, db), c.now)
		id, _, err := a.SignIn(ctx, "alice", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		// Used every 20 minutes, it lives until the absolute expiry.
		for c.t.Before(t0.Add(identity.DefaultAbsoluteTimeout - 20*time.Minute)) {
			c.t = c.t.Add(20 * time.Minute)
			if _, err := a.Session(ctx, id); err != nil {
				t.Fatalf("at %s: %v", c.t.Sub(t0), err)
			}
		}
		c.t = t0.Add(identity.DefaultAbsoluteTimeout)
		if _, err := a.Session(ctx, id); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("past the absolute expiry: %v", err)
		}
		// Left idle, it ends; another replica (a fresh authenticator) agrees.
		c.t = t0
		id, _, err = a.SignIn(ctx, "alice", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		c.t = t0.Add(identity.DefaultIdleTimeout + time.Second)
		other := identity.NewAuthenticator(a.Store, c.now)
		if _, err := other.Session(ctx, id); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("idle session on another replica: %v", err)
		}
		if _, err := a.Session(ctx, id); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("idle session: %v", err)
		}
		// Signing out ends it on every replica.
		c.t = t0
		id, _, err = a.SignIn(ctx, "alice", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SignOut(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := identity.NewAuthenticator(a.Store, c.now).Session(ctx, id); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("signed-out session: %v", err)
		}
	})
}

func TestTokenLifecycle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		c := &clock{t: t0}
		s := newStore(t, db)
		a := identity.NewAuthenticator(s, c.now)
		if _, _, err := s.CreateToken(ctx, "alice", "epr", t0.Add(400*24*time.Hour), t0); failure.CodeOf(err) != failure.Invalid {
			t.Errorf("a token for 400 days: %v", err)
		}
		secret, tok, err := s.CreateToken(ctx, "alice", "epr", t0.Add(90*24*time.Hour), t0)
		if err != nil || !strings.HasPrefix(secret, identity.TokenPrefix) {
			t.Fatalf("create: %q %v", secret, err)
		}
		p, err := a.Bearer(ctx, secret)
		if err != nil || p.Method != identity.MethodToken || p.TokenID != tok.ID || !p.Has(identity.Clinician) {
			t.Fatalf("bearer: %+v %v", p, err)
		}
		var stored string
		if err := db.Get(&stored, `SELECT hash FROM api_tokens`); err != nil || strings.Contains(stored, secret) || len(stored) != 64 {
			t.Errorf("stored %q: the token must be kept only as its hash", stored)
		}
		toks, err := s.Tokens(ctx, "alice")
		if err != nil || len(toks) != 1 || toks[0].LastUsedAt == nil {
			t.Errorf("tokens %+v %v; want last use recorded", toks, err)
		}
		if err := s.RevokeToken(ctx, tok.ID, t0); err != nil {
			t.Fatal(err)
		}
		c.t = t0.Add(identity.DefaultCacheTTL)
		if _, err := a.Bearer(ctx, secret); failure.CodeOf(err) != failure.Unauthenticated {
			t.Errorf("revoked token after the cache lifetime: %v", err)
		}
		if err := s.RevokeToken(ctx, tok.ID, t0); failure.CodeOf(err) != failure.NotFound {
			t.Errorf("revoking twice: %v", err)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	h, err := identity.HashPassword("correct horse battery")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q %v", h, err)
	}
	h2, _ := identity.HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !identity.CheckPassword(h, "correct horse battery") || identity.CheckPassword(h, "correct horse batterY") || identity.CheckPassword("garbage", "x") {
		t.Error("CheckPassword")
	}
}

func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := identity.HashPassword("correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}
