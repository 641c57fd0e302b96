// Package oidctest runs an OpenID provider on loopback for tests of single sign-on.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"net"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// Start runs the test provider on 127.0.0.1 with a freshly made signing key of its own (the
// library's default key is shared by every instance, which would let a second provider forge the
// first's tokens and hide a missing signature check), and shuts it down when the test ends.
func Start(t testing.TB) *mockoidc.MockOIDC {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mockoidc.NewServer(key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}
