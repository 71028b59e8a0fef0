package wire

// User is the User carrier (an associate with its login data).
type User struct {
	AssociateId        int               `json:"AssociateId"`
	Name               string            `json:"Name"`
	Rank               int               `json:"Rank"`
	Tooltip            string            `json:"Tooltip"`
	LicenseOwners      []LicenseOwner    `json:"LicenseOwners"`
	Role               *Role             `json:"Role"`
	UserGroup          *UserGroup        `json:"UserGroup"`
	OtherGroups        []UserGroup       `json:"OtherGroups"`
	Person             *Person           `json:"Person"`
	Deleted            bool              `json:"Deleted"`
	Lastlogin          string            `json:"Lastlogin"`
	Lastlogout         string            `json:"Lastlogout"`
	EjUserId           int               `json:"EjUserId"`
	RequestSignature   string            `json:"RequestSignature"`
	Type               string            `json:"Type"`
	IsPersonRetired    bool              `json:"IsPersonRetired"`
	IsOnTravel         bool              `json:"IsOnTravel"`
	Credentials        []Credential      `json:"Credentials"`
	UserName           string            `json:"UserName"`
	NickName           string            `json:"NickName"`
	WaitingForApproval bool              `json:"WaitingForApproval"`
	ExtraFields        map[string]string `json:"ExtraFields"`
	CustomFields       map[string]string `json:"CustomFields"`
	TableRight         *TableRight       `json:"TableRight"`
	Links_             map[string]string `json:"_Links,omitempty"`
}

// Role is a user's role.
type Role struct {
	Id      int    `json:"Id"`
	Value   string `json:"Value"`
	Tooltip string `json:"Tooltip"`
}

// UserGroup is a user group.
type UserGroup struct {
	Value   string `json:"Value"`
	Tooltip string `json:"Tooltip"`
	Id      int    `json:"Id"`
	Rank    int    `json:"Rank"`
	Deleted bool   `json:"Deleted"`
}

// CredentialType names a kind of login credential.
type CredentialType struct {
	Value       string `json:"Value"`
	Display     string `json:"Display"`
	Description string `json:"Description"`
	IsPublic    bool   `json:"IsPublic"`
	IsAuthOnly  bool   `json:"IsAuthOnly"`
}

// Credential is one login credential of a user.
type Credential struct {
	Type         *CredentialType `json:"Type"`
	Value        string          `json:"Value"`
	DisplayValue string          `json:"DisplayValue"`
}

// SoPrincipalCarrier is the answer of User/currentPrincipal.
type SoPrincipalCarrier struct {
	UserType                  string                 `json:"UserType"`
	Associate                 string                 `json:"Associate"`
	AssociateId               int                    `json:"AssociateId"`
	IsPerson                  bool                   `json:"IsPerson"`
	PersonId                  int                    `json:"PersonId"`
	ContactId                 int                    `json:"ContactId"`
	GroupId                   int                    `json:"GroupId"`
	RoleId                    int                    `json:"RoleId"`
	RoleName                  string                 `json:"RoleName"`
	RoleType                  string                 `json:"RoleType"`
	Licenses                  []GrantedModuleLicense `json:"Licenses"`
	FullName                  string                 `json:"FullName"`
	EMailAddress              string                 `json:"EMailAddress"`
	FunctionRights            []string               `json:"FunctionRights"`
	DatabaseContextIdentifier string                 `json:"DatabaseContextIdentifier"`
	UserName                  string                 `json:"UserName"`
}

// GrantedModuleLicense is one licence granted to the current principal.
type GrantedModuleLicense struct {
	OwnerId          int    `json:"OwnerId"`
	OwnerName        string `json:"OwnerName"`
	OwnerDescription string `json:"OwnerDescription"`
	ModuleId         int    `json:"ModuleId"`
	Name             string `json:"Name"`
	Description      string `json:"Description"`
	LicenseType      string `json:"LicenseType"`
	IsHidden         bool   `json:"IsHidden"`
	IsUnrestricted   bool   `json:"IsUnrestricted"`
}

// LicenseOwner groups the module licences of one owner for one associate.
type LicenseOwner struct {
	Name                       string              `json:"Name"`
	Description                string              `json:"Description"`
	RestrictedModuleLicenses   []ModuleLicenseLink `json:"RestrictedModuleLicenses"`
	UnrestrictedModuleLicenses []ModuleLicenseLink `json:"UnrestrictedModuleLicenses"`
}

// ModuleLicenseLink is one module licence as seen from an associate.
type ModuleLicenseLink struct {
	Unrestricted    bool   `json:"Unrestricted"`
	Total           int    `json:"Total"`
	Tooltip         string `json:"Tooltip"`
	CanAssign       bool   `json:"CanAssign"`
	Free            int    `json:"Free"`
	InUse           int    `json:"InUse"`
	IsHidden        bool   `json:"IsHidden"`
	Assigned        bool   `json:"Assigned"`
	ModuleLicenseId int    `json:"ModuleLicenseId"`
	Name            string `json:"Name"`
	Description     string `json:"Description"`
	SortOrder       int    `json:"SortOrder"`
	ExtraFlags      int    `json:"ExtraFlags"`
}

// ExtendedLicenseInfo is the licence of one module owner with usage.
type ExtendedLicenseInfo struct {
	Reason                   string                  `json:"Reason"`
	CanBeActivated           bool                    `json:"CanBeActivated"`
	New                      *LicenseInfo            `json:"New"`
	Current                  *LicenseInfo            `json:"Current"`
	ExtendedModuleLicenses   []ExtendedModuleLicense `json:"ExtendedModuleLicenses"`
	AccumulatedNextCheckDate string                  `json:"AccumulatedNextCheckDate"`
}

// LicenseInfo is one owner's licence.
type LicenseInfo struct {
	CompanyName        string          `json:"CompanyName"`
	SerialNr           string          `json:"SerialNr"`
	OwnerName          string          `json:"OwnerName"`
	OwnerDescription   string          `json:"OwnerDescription"`
	NextCheckDate      string          `json:"NextCheckDate"`
	MaintenanceDate    string          `json:"MaintenanceDate"`
	ExpiryDate         string          `json:"ExpiryDate"`
	ExtraFlags         int             `json:"ExtraFlags"`
	ExtraInfo          string          `json:"ExtraInfo"`
	LicenseVersion     string          `json:"LicenseVersion"`
	ProductType        string          `json:"ProductType"`
	ProductDescription string          `json:"ProductDescription"`
	ModuleLicenses     []ModuleLicense `json:"ModuleLicenses"`
}

// ModuleLicense is one module of a licence.
type ModuleLicense struct {
	OwnerName         string `json:"OwnerName"`
	ModuleName        string `json:"ModuleName"`
	ModuleDescription string `json:"ModuleDescription"`
	ModuleTooltip     string `json:"ModuleTooltip"`
	ModuleVersion     string `json:"ModuleVersion"`
	LicenseType       string `json:"LicenseType"`
	Unrestricted      bool   `json:"Unrestricted"`
	AllowedUserType   string `json:"AllowedUserType"`
	NumberOfLicenses  int    `json:"NumberOfLicenses"`
	ExtraFlags        int    `json:"ExtraFlags"`
	ExtraInfo         string `json:"ExtraInfo"`
	SortOrder         int    `json:"SortOrder"`
	IsHidden          bool   `json:"IsHidden"`
}

// ExtendedModuleLicense is one module licence with usage counts.
type ExtendedModuleLicense struct {
	New                      *ModuleLicense `json:"New"`
	Current                  *ModuleLicense `json:"Current"`
	NumberOfLicensesInUse    int            `json:"NumberOfLicensesInUse"`
	NumberOfLicensesFree     int            `json:"NumberOfLicensesFree"`
	NumberOfLicensesAdded    int            `json:"NumberOfLicensesAdded"`
	NumberOfLicensesNewTotal int            `json:"NumberOfLicensesNewTotal"`
	NumberOfLicensesNewFree  int            `json:"NumberOfLicensesNewFree"`
	NumberOfLicensesTotal    int            `json:"NumberOfLicensesTotal"`
}

// MDOListItem is one item of a list (resources, tasks, ...).
type MDOListItem struct {
	Id         int           `json:"Id"`
	Name       string        `json:"Name"`
	ToolTip    string        `json:"ToolTip"`
	Deleted    bool          `json:"Deleted"`
	Rank       int           `json:"Rank"`
	Type       string        `json:"Type"`
	ChildItems []MDOListItem `json:"ChildItems"`
	IconHint   string        `json:"IconHint"`
	ColorBlock int           `json:"ColorBlock"`
	ExtraInfo  string        `json:"ExtraInfo"`
	StyleHint  string        `json:"StyleHint"`
	FullName   string        `json:"FullName"`
}

// TimeZoneRule is one standard- or daylight-time rule.
type TimeZoneRule struct {
	StartDay         int    `json:"StartDay"`
	StartMonth       int    `json:"StartMonth"`
	EndDay           int    `json:"EndDay"`
	EndMonth         int    `json:"EndMonth"`
	TZOffset         int    `json:"TZOffset"`
	StartRulePattern string `json:"StartRulePattern"`
	EndRulePattern   string `json:"EndRulePattern"`
}

// TimeZoneData describes one time zone location.
type TimeZoneData struct {
	TZLocationID     int                     `json:"TZLocationID"`
	Name             string                  `json:"Name"`
	TZLocationCode   string                  `json:"TZLocationCode"`
	TZLocationCities string                  `json:"TZLocationCities"`
	IsoNumber        int                     `json:"IsoNumber"`
	TimeZoneSTDRules map[string]TimeZoneRule `json:"TimeZoneSTDRules"`
	TimeZoneDSTRules map[string]TimeZoneRule `json:"TimeZoneDSTRules"`
}

// Webhook is a webhook registration.
type Webhook struct {
	WebhookId         FlexInt           `json:"WebhookId"`
	Name              string            `json:"Name"`
	Events            []string          `json:"Events"`
	TargetUrl         string            `json:"TargetUrl"`
	Secret            string            `json:"Secret"`
	State             string            `json:"State"`
	Type              string            `json:"Type"`
	Headers           map[string]string `json:"Headers"`
	Properties        map[string]any    `json:"Properties"`
	Registered        string            `json:"Registered"`
	Updated           string            `json:"Updated"`
	ErrorsEmail       string            `json:"ErrorsEmail"`
	Description       string            `json:"Description"`
	NotifyVia         string            `json:"NotifyVia,omitempty"`
	NotifyWhen        string            `json:"NotifyWhen,omitempty"`
	TotalCalls        int               `json:"TotalCalls"`
	TotalErrors       int               `json:"TotalErrors"`
	ConsecutiveErrors int               `json:"ConsecutiveErrors"`
	LastError         string            `json:"LastError"`
	Links_            map[string]string `json:"_Links,omitempty"`
}

// WebhookResult is the answer of Webhook/Test.
type WebhookResult struct {
	Success bool   `json:"Success"`
	Message string `json:"Message"`
}

// WebhookPayload is the body a webhook delivery POSTs.
type WebhookPayload struct {
	EventId              string         `json:"EventId"`
	Timestamp            string         `json:"Timestamp"`
	Changes              []string       `json:"Changes"`
	Event                string         `json:"Event"`
	PrimaryKey           int            `json:"PrimaryKey"`
	Entity               string         `json:"Entity"`
	ContextIdentifier    string         `json:"ContextIdentifier"`
	ChangedByAssociateId int            `json:"ChangedByAssociateId"`
	WebhookName          string         `json:"WebhookName"`
	FieldValues          map[string]any `json:"FieldValues"`
	Values               map[string]any `json:"Values,omitempty"`
}
