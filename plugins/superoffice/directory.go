package superoffice

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/tzmap"
	"synchronizer/plugins/superoffice/internal/wire"
)

// directoryTTL is how long associates, tasks and the base zone are reused.
const directoryTTL = time.Hour

// LookupAccount implements sdk.Provider: users by associate id, login name or
// e-mail; resources by associate id or resource name.
func (p *Provider) LookupAccount(ctx context.Context, t sdk.Target, kind sdk.AccountKind, key string) (sdk.Account, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Account{}, err
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return sdk.Account{}, fmt.Errorf("lookup: empty name: %w", sdk.ErrInvalidArgument)
	}
	var e dirEntry
	switch {
	case isNumber(key):
		e, err = p.lookupByID(ctx, in, t, key)
	case kind == sdk.AccountResource:
		e, err = p.lookupResource(ctx, in, t, key)
	case strings.Contains(key, "@"):
		e, err = p.lookupByEmail(ctx, in, t, key)
	default:
		var u wire.User
		_, err = in.get(ctx, t, "/v1/User/"+url.PathEscape(key), nil, &u)
		if err == nil {
			e, err = userEntry(&u)
		}
	}
	if err != nil {
		return sdk.Account{}, fmt.Errorf("lookup %s %q in %s: %w", kind, key, in.name, err)
	}
	if kind != "" && e.kind != kind {
		return sdk.Account{}, fmt.Errorf("lookup %s %q in %s: associate %d is a %s: %w", kind, key, in.name, e.id, e.kind, sdk.ErrNotFound)
	}
	in.remember(e)
	return sdk.Account{ID: strconv.Itoa(e.id), Email: e.email, Name: firstNonEmpty(e.full, e.name), Kind: e.kind}, nil
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func userEntry(u *wire.User) (dirEntry, error) {
	if u == nil || u.AssociateId == 0 {
		return dirEntry{}, fmt.Errorf("no such associate: %w", sdk.ErrNotFound)
	}
	if u.Deleted {
		return dirEntry{}, fmt.Errorf("associate %d (%s) is deleted: %w", u.AssociateId, u.Name, sdk.ErrNotFound)
	}
	e := dirEntry{id: u.AssociateId, name: u.Name, full: u.Name, kind: sdk.AccountUser}
	switch u.Type {
	case "ResourceAssociate":
		e.kind = sdk.AccountResource
	case "InternalAssociate", "":
	default:
		return dirEntry{}, fmt.Errorf("associate %d (%s) is a %s, not a user or resource: %w", u.AssociateId, u.Name, u.Type, sdk.ErrNotFound)
	}
	if u.Person != nil {
		e.email = u.Person.Email
		if u.Person.FullName != "" {
			e.full = u.Person.FullName
		}
	}
	return e, nil
}

func (p *Provider) lookupByID(ctx context.Context, in *instance, t sdk.Target, id string) (dirEntry, error) {
	var u wire.User
	resp, err := in.get(ctx, t, "/v1/User/"+id, nil, &u)
	if err != nil {
		return dirEntry{}, err
	}
	if resp.null {
		return dirEntry{}, fmt.Errorf("no associate %s: %w", id, sdk.ErrNotFound)
	}
	return userEntry(&u)
}

func (p *Provider) lookupResource(ctx context.Context, in *instance, t sdk.Target, name string) (dirEntry, error) {
	var items []wire.MDOListItem
	if _, err := in.get(ctx, t, "/v1/MDOList/resource", url.Values{"flat": {"true"}}, &items); err != nil {
		return dirEntry{}, err
	}
	for _, it := range items {
		if it.Deleted || !(strings.EqualFold(it.Name, name) || strings.EqualFold(it.FullName, name)) {
			continue
		}
		e, err := p.lookupByID(ctx, in, t, strconv.Itoa(it.Id))
		if err != nil {
			if errors.Is(err, sdk.ErrNotFound) {
				return dirEntry{}, err
			}
			// The list is authoritative for resources; the user record only adds detail.
			return dirEntry{id: it.Id, name: it.Name, full: it.Name, kind: sdk.AccountResource}, nil
		}
		return e, nil
	}
	return dirEntry{}, fmt.Errorf("no resource named %q: %w", name, sdk.ErrNotFound)
}

func (p *Provider) lookupByEmail(ctx context.Context, in *instance, t sdk.Target, email string) (dirEntry, error) {
	all, err := in.directory(ctx, t)
	if err != nil {
		return dirEntry{}, err
	}
	for _, e := range all {
		if strings.EqualFold(e.email, email) {
			return e, nil
		}
	}
	return dirEntry{}, fmt.Errorf("no associate with e-mail %s: %w", email, sdk.ErrNotFound)
}

func (in *instance) remember(e dirEntry) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cache.dir == nil {
		in.cache.dir = map[int]dirEntry{}
	}
	e.at = in.now()
	in.cache.dir[e.id] = e
}

// directory lists every active user and resource (OData on the AllUsers
// archive), cached for an hour. The archive's column names are taken from the
// associate columns FindAppointment documents [inferred]; a tenant that refuses
// them only costs the e-mail lookups (participants then travel by address).
func (in *instance) directory(ctx context.Context, t sdk.Target) ([]dirEntry, error) {
	in.mu.Lock()
	if in.cache.dir != nil && !in.cache.dirAt.IsZero() && in.now().Sub(in.cache.dirAt) < directoryTTL {
		out := make([]dirEntry, 0, len(in.cache.dir))
		for _, e := range in.cache.dir {
			out = append(out, e)
		}
		in.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
		return out, nil
	}
	in.mu.Unlock()
	q := url.Values{"$select": {"associateDbId,assocName,fullName,personEmail,assocType,isActive"},
		"$output": {"Logical"}, "$top": {"10000"}}
	var resp wire.ODataResponse
	if _, err := in.get(ctx, t, "/v1/User", q, &resp); err != nil {
		return nil, fmt.Errorf("list associates: %w", err)
	}
	now := in.now()
	dir := map[int]dirEntry{}
	for _, row := range resp.Value {
		id := intOf(row["associateDbId"])
		if id == 0 || (row["isActive"] != nil && row["isActive"] == false) {
			continue
		}
		e := dirEntry{id: id, name: strOf(row["assocName"]), full: strOf(row["fullName"]), email: strOf(row["personEmail"]),
			kind: sdk.AccountUser, at: now}
		switch intOf(row["assocType"]) {
		case 1:
			e.kind = sdk.AccountResource
		case 0:
		default:
			continue
		}
		dir[id] = e
	}
	in.mu.Lock()
	in.cache.dir, in.cache.dirAt = dir, now
	in.mu.Unlock()
	out := make([]dirEntry, 0, len(dir))
	for _, e := range dir {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// associate returns what the directory knows of an associate, reading it when
// needed; errors leave a bare entry.
func (in *instance) associate(ctx context.Context, t sdk.Target, id int) dirEntry {
	in.mu.Lock()
	e, ok := in.cache.dir[id]
	in.mu.Unlock()
	if ok && in.now().Sub(e.at) < directoryTTL {
		return e
	}
	var u wire.User
	resp, err := in.get(ctx, t, "/v1/User/"+strconv.Itoa(id), nil, &u)
	if err != nil || resp.null {
		return dirEntry{id: id, kind: sdk.AccountUser}
	}
	e, err = userEntry(&u)
	if err != nil {
		e = dirEntry{id: id, name: u.Name, full: u.Name, kind: sdk.AccountUser}
		if u.Type == "ResourceAssociate" {
			e.kind = sdk.AccountResource
		}
	}
	in.remember(e)
	return e
}

func intOf(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	case int:
		return x
	}
	return 0
}

func strOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatInt(int64(x), 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// Licenses implements sdk.Provider: module "user" of owner "SuperOffice",
// purchased (NumberOfLicensesTotal) and in use [unconfirmed: that this is what the
// old product counted; config user_licenses overrides].
func (p *Provider) Licenses(ctx context.Context, t sdk.Target) (sdk.Licenses, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Licenses{}, err
	}
	var owner wire.ExtendedLicenseInfo
	_, err = in.get(ctx, t, "/v1/License/SuperOffice", nil, &owner)
	if errors.Is(err, sdk.ErrNotFound) {
		var all []wire.ExtendedLicenseInfo
		if _, err = in.get(ctx, t, "/v1/License", nil, &all); err == nil {
			for _, l := range all {
				if l.Current != nil && strings.EqualFold(l.Current.OwnerName, "SuperOffice") {
					owner = l
				}
			}
		}
	}
	if err != nil {
		return sdk.Licenses{}, fmt.Errorf("read licences of %s: %w", in.name, err)
	}
	for _, m := range owner.ExtendedModuleLicenses {
		if m.Current != nil && strings.EqualFold(m.Current.ModuleName, "user") {
			total := m.NumberOfLicensesTotal
			if total == 0 && m.Current.NumberOfLicenses > 0 {
				total = m.Current.NumberOfLicenses
			}
			return sdk.Licenses{UserLicenses: total, InUse: m.NumberOfLicensesInUse}, nil
		}
	}
	return sdk.Licenses{}, fmt.Errorf("read licences of %s: owner SuperOffice has no module \"user\"; set user_licenses in the config", in.name)
}

// tasks returns the activity type list (id and name), cached for an hour.
func (in *instance) tasks(ctx context.Context, t sdk.Target) ([]taskItem, error) {
	in.mu.Lock()
	if in.cache.tasks != nil && in.now().Sub(in.cache.tasksAt) < directoryTTL {
		out := in.cache.tasks
		in.mu.Unlock()
		return out, nil
	}
	in.mu.Unlock()
	var items []wire.MDOListItem
	if _, err := in.get(ctx, t, "/v1/MDOList/task", url.Values{"flat": {"true"}}, &items); err != nil {
		return nil, fmt.Errorf("read the task list: %w", err)
	}
	var out []taskItem
	for _, it := range items {
		if !it.Deleted {
			out = append(out, taskItem{id: it.Id, name: it.Name})
		}
	}
	in.mu.Lock()
	in.cache.tasks, in.cache.tasksAt = out, in.now()
	in.mu.Unlock()
	return out, nil
}

// location returns the tenant's base time zone: appointment times without an
// offset are wall clock there, and series repeat in it.
func (in *instance) location(ctx context.Context, t sdk.Target) (*time.Location, string, error) {
	in.mu.Lock()
	if in.cache.loc != nil && in.now().Sub(in.cache.zoneAt) < directoryTTL {
		loc, name := in.cache.loc, in.cache.zoneName
		in.mu.Unlock()
		return loc, name, nil
	}
	in.mu.Unlock()
	var z wire.TimeZoneData
	if _, err := in.get(ctx, t, "/v1/TimeZone/base", nil, &z); err != nil {
		return nil, "", fmt.Errorf("read the base time zone: %w", err)
	}
	loc, name, ok := tzmap.Lookup(z.TZLocationID, z.TZLocationCode, z.Name, z.TZLocationCities)
	if !ok {
		in.logger.Warn("unknown SuperOffice base time zone; series and all-day items use UTC",
			"zone_id", z.TZLocationID, "zone_code", z.TZLocationCode, "zone_name", z.Name)
		loc, name = time.UTC, "UTC"
	}
	in.mu.Lock()
	in.cache.loc, in.cache.zoneName, in.cache.zoneAt = loc, name, in.now()
	in.mu.Unlock()
	return loc, name, nil
}

// principal returns the associate id the credential acts as (the system user for
// tickets), cached per credential.
func (in *instance) principal(ctx context.Context, t sdk.Target) (int, error) {
	key := t.Credential.Type + ":" + tokenKey(t.Credential.Token)
	in.mu.Lock()
	id, ok := in.cache.principals[key]
	in.mu.Unlock()
	if ok {
		return id, nil
	}
	var pr wire.SoPrincipalCarrier
	if _, err := in.get(ctx, t, "/v1/User/currentPrincipal", nil, &pr); err != nil {
		return 0, fmt.Errorf("read the current principal: %w", err)
	}
	in.mu.Lock()
	if in.cache.principals == nil || len(in.cache.principals) > maxCached {
		in.cache.principals = map[string]int{} // access tokens rotate: start over
	}
	in.cache.principals[key] = pr.AssociateId
	in.mu.Unlock()
	return pr.AssociateId, nil
}
