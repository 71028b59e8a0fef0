package runner

import (
	"context"
	"fmt"

	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

// UserLicenses implements agent.LicenseSource: the tenant's purchased user
// licences, read through the superoffice provider with the tenant's credential.
// (A user_licenses setting in the configuration wins; the agent does not ask then.)
func (r *Runner) UserLicenses(ctx context.Context, so *config.SuperOffice) (int, error) {
	p, err := r.provider(ctx, so.Name)
	if err != nil {
		return 0, err
	}
	creds := r.opts.Credentials
	s := &side{which: engine.SuperOffice, p: p, base: sdk.Target{Instance: so.Name},
		credential: func(ctx context.Context) (sdk.Credential, error) { return creds.SuperOffice(ctx, so) },
		invalidate: creds.Invalidate}
	lic, err := s.Licenses(ctx)
	if err != nil {
		err = r.explain(&bound{so: so}, err)
		return 0, fmt.Errorf("read the user licences of tenant %s: %w", so.Name, err)
	}
	if lic.UserLicenses < 0 {
		return 0, fmt.Errorf("tenant %s reported %d user licences", so.Name, lic.UserLicenses)
	}
	return lic.UserLicenses, nil
}
