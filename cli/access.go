package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/triage"
)

// recordAccess writes an access record for a command that read or exported personal data (or a
// pseudonymised view of it), as the local account running it. The output is not written when the
// record cannot be: an unrecorded read is not allowed.
func (c *commands) recordAccess(ctx *cli.Context, s *services, action string, records []string, purpose string) error {
	return (&audit.Log{DB: s.db}).Append(ctx.Context, c.access(action, records, purpose))
}

// recordInTx returns a hook writing the access record in the transaction that stores a decision.
func (c *commands) recordInTx(s *services, action string) triage.Booking {
	return func(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
		return audit.AppendTx(ctx, tx, c.access(action, []string{d.ID}, ""))
	}
}

func (c *commands) access(action string, records []string, purpose string) audit.Access {
	p := c.principal()
	return audit.Access{Subject: p.Subject, Roles: identity.RoleNames(p.Roles), Team: p.Team(), At: c.now(), Action: action, Records: records,
		Purpose: purpose, Outcome: audit.Allowed, Client: "cli"}
}
