package cli

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server"
)

// configureServer applies the configuration's transport and sign-in settings to the API: cookies
// are Secure under TLS or behind a TLS-terminating proxy, whose X-Forwarded-For is then trusted;
// session lifetimes; and single sign-on when an OpenID provider is configured.
func (c *commands) configureServer(ctx context.Context, cfg config.Config, api *server.Server) error {
	api.TLS = cfg.Server.TLS() || cfg.Server.BehindProxy
	api.TrustProxy = cfg.Server.BehindProxy
	if cfg.Auth.SessionIdleTimeout > 0 {
		api.Auth.IdleTimeout = cfg.Auth.SessionIdleTimeout
	}
	if cfg.Auth.SessionAbsoluteTimeout > 0 {
		api.Auth.AbsoluteTimeout = cfg.Auth.SessionAbsoluteTimeout
	}
	o := cfg.Auth.OIDC
	if !o.Enabled() {
		return nil
	}
	provider, err := newOIDC(ctx, o, c.now)
	if err != nil {
		return err
	}
	api.Auth.JWT = provider
	// The pending sign-in cookie must open on whichever replica the browser comes back to, so its
	// key derives from a secret every replica shares: the client secret, bound to the issuer.
	key, err := hkdf.Key(sha256.New, []byte(o.ClientSecret.Reveal()), []byte(o.Issuer), "carepath oidc pending sign-in", 32)
	if err != nil {
		return fmt.Errorf("cli: unable to derive the sign-in cookie key: %w", err)
	}
	api.OIDCRoutes, err = server.SingleSignOn(provider, key)
	return err
}

// newOIDC connects to the configured OpenID provider (its discovery document).
func newOIDC(ctx context.Context, o config.OIDC, now func() time.Time) (*identity.OIDC, error) {
	return identity.NewOIDC(ctx, identity.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(),
		RedirectURL: o.RedirectURL, RolesClaim: o.RolesClaim, TeamsClaim: o.TeamsClaim, RoleMap: o.RoleMap, Now: now})
}
