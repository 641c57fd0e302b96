package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/privacy"
)

// pseudonymiser loads the deployment's pseudonym key, which names people and cases in what
// analysts see (replay reports, impact previews, shadow reports). The key file is the one the
// configuration names (privacy.pseudonym_key_file), else the one CAREPATH_PSEUDONYM_KEY_FILE
// names; a named file must exist, because a new key would silently give everyone new pseudonyms.
// With neither, pseudonym.key in the per-user configuration directory is used, created on first
// use; the key belongs with the deployment's backups of its secrets, never in the database.
func (c *commands) pseudonymiser(ctx *cli.Context) (*privacy.Pseudonymiser, error) {
	refuse := func(err error) error {
		return cli.Exit(fmt.Sprintf("carepath: %v (set %s to the deployment's key file)", err, privacy.KeyFileEnv), ExitInvalid)
	}
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	path := cfg.Privacy.PseudonymKeyFile
	if path == "" {
		path = os.Getenv(privacy.KeyFileEnv)
	}
	var key []byte
	if path != "" {
		if key, err = privacy.LoadKey(path); err != nil {
			return nil, refuse(err)
		}
	} else {
		if path, err = privacy.DefaultKeyFile(); err != nil {
			return nil, refuse(err)
		}
		_, statErr := os.Stat(path)
		if key, err = privacy.CreateKeyFile(path); err != nil {
			return nil, refuse(err)
		}
		if errors.Is(statErr, fs.ErrNotExist) {
			fmt.Fprintf(c.io.Stderr, "carepath: created the pseudonym key %s; back it up with the deployment's secrets (not with the database): a new key gives everyone new pseudonyms\n", path)
		}
	}
	p, err := privacy.New(key)
	if err != nil {
		return nil, refuse(err)
	}
	return p, nil
}
