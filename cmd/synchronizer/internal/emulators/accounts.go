package emulators

import (
	"fmt"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/superoffice/sotest"
)

// The administrators of the emulated systems: they grant tenant-level access (the
// SuperOffice system user, the Google admin connection for resource calendars,
// Microsoft 365 admin consent).
const (
	SuperOfficeAdmin = "ADMIN"
	M365Admin        = "admin@" + graphtest.DefaultDomain
	GoogleAdmin      = "admin@" + gcaltest.Domain
)

// GoogleDomain is the emulated Workspace domain.
const GoogleDomain = gcaltest.Domain

// SuperOfficeUser is the login name of the i-th user: USER1.
func SuperOfficeUser(i int) string { return fmt.Sprintf("USER%d", i) }

// SuperOfficeResource is the name of the i-th resource: ROOM1.
func SuperOfficeResource(i int) string { return fmt.Sprintf("ROOM%d", i) }

// M365User is the mailbox of the i-th user: user1@m365.test.
func M365User(i int) string { return fmt.Sprintf("user%d@%s", i, graphtest.DefaultDomain) }

// M365Room is the room mailbox of the i-th resource: room1@m365.test.
func M365Room(i int) string { return fmt.Sprintf("room%d@%s", i, graphtest.DefaultDomain) }

// GoogleUser is the address of the i-th user: user1@google.test.
func GoogleUser(i int) string { return gcaltest.UserEmail(i) }

// GoogleResource is the calendar id of the i-th resource: room1@resource.google.test.
func GoogleResource(i int) string { return gcaltest.ResourceEmail(i) }

// Populate creates users 1..users and resources 1..resources in all three systems,
// named as above, plus each system's administrator. It returns the SuperOffice
// associate ids by login or resource name.
func (c *Cluster) Populate(users, resources int) (map[string]int, error) {
	if users < 0 || resources < 0 {
		return nil, fmt.Errorf("populate: negative count (%d users, %d resources)", users, resources)
	}
	ids := map[string]int{}
	id, err := c.SuperOffice.AddUser(sotest.User{Login: SuperOfficeAdmin, FullName: "Administrator",
		Email: "admin@superoffice.test", Admin: true})
	if err != nil {
		return nil, fmt.Errorf("add the SuperOffice administrator: %w", err)
	}
	ids[SuperOfficeAdmin] = id
	if _, err := c.M365.AddUser(graphtest.User{UserPrincipalName: M365Admin, DisplayName: "Administrator", Admin: true}); err != nil {
		return nil, fmt.Errorf("add the Microsoft 365 administrator: %w", err)
	}
	if err := c.Google.AddUser(gcaltest.User{Email: GoogleAdmin, Name: "Administrator", Admin: true}); err != nil {
		return nil, fmt.Errorf("add the Google administrator: %w", err)
	}
	for i := 1; i <= users; i++ {
		login := SuperOfficeUser(i)
		id, err := c.SuperOffice.AddUser(sotest.User{Login: login, FullName: fmt.Sprintf("User %d", i),
			Email: fmt.Sprintf("user%d@superoffice.test", i)})
		if err != nil {
			return nil, fmt.Errorf("add SuperOffice user %s: %w", login, err)
		}
		ids[login] = id
		if _, err := c.M365.AddUser(graphtest.User{UserPrincipalName: M365User(i), DisplayName: fmt.Sprintf("User %d", i)}); err != nil {
			return nil, fmt.Errorf("add Microsoft 365 user %s: %w", M365User(i), err)
		}
		if err := c.Google.AddUser(gcaltest.User{Email: GoogleUser(i), Name: fmt.Sprintf("User %d", i)}); err != nil {
			return nil, fmt.Errorf("add Google user %s: %w", GoogleUser(i), err)
		}
	}
	for i := 1; i <= resources; i++ {
		name := SuperOfficeResource(i)
		id, err := c.SuperOffice.AddResource(name, true)
		if err != nil {
			return nil, fmt.Errorf("add SuperOffice resource %s: %w", name, err)
		}
		ids[name] = id
		display := fmt.Sprintf("Meeting room %d", i)
		if _, err := c.M365.AddResource(graphtest.Room{Email: M365Room(i), DisplayName: display, Capacity: 4 + 2*i,
			Building: "Main", FloorNumber: 1 + i%3, RoomList: "rooms@" + graphtest.DefaultDomain}); err != nil {
			return nil, fmt.Errorf("add Microsoft 365 room %s: %w", M365Room(i), err)
		}
		if err := c.Google.AddResource(gcaltest.Resource{Email: GoogleResource(i), Name: display, Capacity: 4 + 2*i}); err != nil {
			return nil, fmt.Errorf("add Google resource %s: %w", GoogleResource(i), err)
		}
	}
	return ids, nil
}

// SeedEvents gives every diary and calendar of users 1..users and resources
// 1..resources n items from its emulator's own seeder (singles, all-day, private,
// a weekly series with a moved and a cancelled occurrence), deterministically from
// seed and the day.
func (c *Cluster) SeedEvents(users, resources, n int, seed int64) error {
	if n <= 0 {
		return nil
	}
	type target struct {
		name    string
		account string
		seed    func(string, int, int64) error
	}
	var ts []target
	for i := 1; i <= users; i++ {
		ts = append(ts, target{"SuperOffice", SuperOfficeUser(i), c.SuperOffice.SeedEvents},
			target{"Microsoft 365", M365User(i), c.M365.SeedEvents},
			target{"Google", GoogleUser(i), c.Google.SeedEvents})
	}
	for i := 1; i <= resources; i++ {
		ts = append(ts, target{"SuperOffice", SuperOfficeResource(i), c.SuperOffice.SeedEvents},
			target{"Microsoft 365", M365Room(i), c.M365.SeedEvents},
			target{"Google", GoogleResource(i), c.Google.SeedEvents})
	}
	for _, t := range ts {
		if err := t.seed(t.account, n, seed); err != nil {
			return fmt.Errorf("seed %s %s: %w", t.name, t.account, err)
		}
	}
	return nil
}
