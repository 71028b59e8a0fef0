package mail

import (
	"fmt"
	"strings"
	"time"
)

// catalog holds every sentence of every mail in one language. Arguments are positional
// (%[1]s …) so each language orders them as it needs. The strings are plain text; the
// renderer escapes them for HTML and wraps arguments (names, commands) in markup.
type catalog struct {
	tag    string     // language tag, also the Content-Language header
	months [12]string // month names as used inside a date
	// date formats a point in time: %[1]d day, %[2]s month name, %[3]d year,
	// %[4]s hh:mm, %[5]s time zone abbreviation.
	date string

	subjectActivationUser     string
	subjectActivationResource string // %[1]s resource name
	subjectExpiredUser        string
	subjectExpiredResource    string // %[1]s resource name
	subjectDigestOne          string
	subjectDigestOther        string // %[1]d number of links

	hello         string // %[1]s person's name
	helloResource string

	introActivationUser     string // %[1]s calendar system, %[2]s mailbox
	introActivationResource string // %[1]s resource, %[2]s calendar system, %[3]s mailbox
	introExpiredUser        string // %[1]s calendar system, %[2]s mailbox
	introExpiredResource    string // %[1]s resource, %[2]s calendar system, %[3]s mailbox
	expiredCause            string

	dirTwoWay        string
	dirToCalendar    string
	dirToSuperOffice string

	signInAs           string // %[1]s mailbox
	signInResourceSelf string // %[1]s mailbox
	signInManager      string // %[1]s calendar id
	onceOnly           string
	catchUp            string

	buttonActivate  string
	buttonReconnect string
	linkFallback    string
	expires         string // %[1]s date
	ignore          string
	footer          string // %[1]s profile

	digestIntro        string
	statePending       string
	stateNeedsConsent  string
	stateError         string
	stateUnlicensed    string
	colProfile         string
	colLink            string
	colAccount         string
	colSince           string
	colDetails         string
	hintPending        string // %[1]s command
	hintPendingExpired string // %[1]s date, %[2]s command
	hintNeedsConsent   string // %[1]s command
	hintError          string // %[1]s last error, %[2]s command
	hintUnlicensed     string
	digestFooter       string // %[1]s command
}

// Languages lists the supported language codes, English first.
func Languages() []string { return []string{"en", "no", "sv", "da", "de", "nl"} }

// normalizeLanguage reduces a language code to the form the catalogs use: lower case,
// without a region ("de-AT" is "de"), with Norwegian Bokmål ("nb") as "no".
func normalizeLanguage(code string) string {
	code = strings.ToLower(strings.TrimSpace(code))
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		code = code[:i]
	}
	if code == "nb" {
		code = "no"
	}
	return code
}

// lookupLanguage returns the catalog for code, or English for an unknown or empty code.
func lookupLanguage(code string) *catalog {
	switch normalizeLanguage(code) {
	case "no":
		return norwegian()
	case "sv":
		return swedish()
	case "da":
		return danish()
	case "de":
		return german()
	case "nl":
		return dutch()
	default:
		return english()
	}
}

// SupportedLanguage reports whether code selects its own templates rather than
// falling back to English. Config validation can use it to warn about a typo.
func SupportedLanguage(code string) bool {
	return lookupLanguage(code).tag == normalizeLanguage(code)
}

// formatDate renders t in loc the way the language writes a date and time.
func (c *catalog) formatDate(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return fmt.Sprintf(c.date, t.Day(), c.months[t.Month()-1], t.Year(), t.Format("15:04"), t.Format("MST"))
}

func english() *catalog {
	return &catalog{
		tag:    "en",
		months: [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		date:   "%[1]d %[2]s %[3]d at %[4]s (%[5]s)",

		subjectActivationUser:     "Connect your calendar to SuperOffice",
		subjectActivationResource: "Connect the calendar of %[1]s to SuperOffice",
		subjectExpiredUser:        "Your calendar sync has stopped – please sign in again",
		subjectExpiredResource:    "Calendar sync for %[1]s has stopped – please sign in again",
		subjectDigestOne:          "Synchronizer: 1 link needs attention",
		subjectDigestOther:        "Synchronizer: %[1]d links need attention",

		hello:         "Hello %[1]s,",
		helloResource: "Hello,",

		introActivationUser:     "Your SuperOffice diary is about to be kept in sync with your %[1]s calendar (%[2]s).",
		introActivationResource: "The SuperOffice resource %[1]s is about to be kept in sync with the %[2]s calendar %[3]s.",
		introExpiredUser:        "The connection between SuperOffice and your %[1]s calendar (%[2]s) has stopped working, so your appointments are no longer kept in sync.",
		introExpiredResource:    "The connection between the SuperOffice resource %[1]s and the %[2]s calendar %[3]s has stopped working, so its appointments are no longer kept in sync.",
		expiredCause:            "This usually happens after a password change, or when a security policy ends the sign-in.",

		dirTwoWay:        "Appointments added or changed on one side will show up on the other automatically.",
		dirToCalendar:    "Appointments from SuperOffice will be copied to the calendar automatically.",
		dirToSuperOffice: "Appointments from the calendar will be copied to SuperOffice automatically.",

		signInAs:           "Open the link below and sign in as %[1]s.",
		signInResourceSelf: "Open the link below and sign in as the resource itself, with the account %[1]s.",
		signInManager:      "Open the link below and sign in with an account that manages the calendar %[1]s.",
		onceOnly:           "You only need to do this once.",
		catchUp:            "Changes made in the meantime will be synced as soon as the sign-in is done.",

		buttonActivate:  "Connect the calendar",
		buttonReconnect: "Sign in again",
		linkFallback:    "If the button does not work, copy this address into your browser:",
		expires:         "The link can be used once and expires on %[1]s.",
		ignore:          "If you were not expecting this mail, you can ignore it: nothing happens until someone signs in.",
		footer:          "Sent by Synchronizer for the profile %[1]s.",

		digestIntro:        "These links need attention:",
		statePending:       "Not activated yet",
		stateNeedsConsent:  "Sign-in expired",
		stateError:         "Sync error",
		stateUnlicensed:    "No licence",
		colProfile:         "Profile",
		colLink:            "Link",
		colAccount:         "Account",
		colSince:           "Since",
		colDetails:         "What to do",
		hintPending:        "Nobody has signed in yet. To send the activation mail again: %[1]s",
		hintPendingExpired: "The activation link expired on %[1]s without anybody signing in. To send a new one: %[2]s",
		hintNeedsConsent:   "The sign-in stopped working and the account was asked by mail to sign in again. To send that mail again: %[1]s",
		hintError:          "Last error: %[1]s. Details are in the log. Once the cause is fixed, run: %[2]s",
		hintUnlicensed:     "The SuperOffice tenant has more links than licences, so this link is not synced. Add SuperOffice user licences or remove links from the configuration.",
		digestFooter:       "This summary is sent at most once every 12 hours while links need attention. For the full picture, run on the server: %[1]s",
	}
}

func norwegian() *catalog {
	return &catalog{
		tag:    "no",
		months: [12]string{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "desember"},
		date:   "%[1]d. %[2]s %[3]d kl. %[4]s (%[5]s)",

		subjectActivationUser:     "Koble kalenderen din til SuperOffice",
		subjectActivationResource: "Koble kalenderen til %[1]s til SuperOffice",
		subjectExpiredUser:        "Kalendersynkroniseringen har stoppet – logg inn på nytt",
		subjectExpiredResource:    "Kalendersynkroniseringen for %[1]s har stoppet – logg inn på nytt",
		subjectDigestOne:          "Synchronizer: 1 kobling trenger oppfølging",
		subjectDigestOther:        "Synchronizer: %[1]d koblinger trenger oppfølging",

		hello:         "Hei %[1]s,",
		helloResource: "Hei,",

		introActivationUser:     "SuperOffice-dagboken din skal nå holdes synkronisert med %[1]s-kalenderen din (%[2]s).",
		introActivationResource: "SuperOffice-ressursen %[1]s skal nå holdes synkronisert med %[2]s-kalenderen %[3]s.",
		introExpiredUser:        "Koblingen mellom SuperOffice og %[1]s-kalenderen din (%[2]s) har sluttet å virke, så avtalene dine synkroniseres ikke lenger.",
		introExpiredResource:    "Koblingen mellom SuperOffice-ressursen %[1]s og %[2]s-kalenderen %[3]s har sluttet å virke, så avtalene synkroniseres ikke lenger.",
		expiredCause:            "Dette skjer som regel etter et passordbytte, eller når en sikkerhetsregel avslutter påloggingen.",

		dirTwoWay:        "Avtaler som legges inn eller endres på den ene siden, dukker automatisk opp på den andre.",
		dirToCalendar:    "Avtaler fra SuperOffice kopieres automatisk til kalenderen.",
		dirToSuperOffice: "Avtaler fra kalenderen kopieres automatisk til SuperOffice.",

		signInAs:           "Åpne lenken nedenfor og logg inn som %[1]s.",
		signInResourceSelf: "Åpne lenken nedenfor og logg inn som selve ressursen, med kontoen %[1]s.",
		signInManager:      "Åpne lenken nedenfor og logg inn med en konto som administrerer kalenderen %[1]s.",
		onceOnly:           "Dette trengs bare én gang.",
		catchUp:            "Endringer som er gjort i mellomtiden, synkroniseres så snart påloggingen er fullført.",

		buttonActivate:  "Koble til kalenderen",
		buttonReconnect: "Logg inn på nytt",
		linkFallback:    "Hvis knappen ikke virker, kopierer du denne adressen inn i nettleseren:",
		expires:         "Lenken kan brukes én gang og utløper %[1]s.",
		ignore:          "Hvis du ikke ventet denne e-posten, kan du se bort fra den: ingenting skjer før noen logger inn.",
		footer:          "Sendt av Synchronizer for profilen %[1]s.",

		digestIntro:        "Disse koblingene trenger oppfølging:",
		statePending:       "Ikke aktivert ennå",
		stateNeedsConsent:  "Påloggingen er utløpt",
		stateError:         "Synkroniseringsfeil",
		stateUnlicensed:    "Mangler lisens",
		colProfile:         "Profil",
		colLink:            "Kobling",
		colAccount:         "Konto",
		colSince:           "Siden",
		colDetails:         "Hva må gjøres",
		hintPending:        "Ingen har logget inn ennå. Slik sender du aktiveringsmeldingen på nytt: %[1]s",
		hintPendingExpired: "Aktiveringslenken utløp %[1]s uten at noen logget inn. Slik sender du en ny: %[2]s",
		hintNeedsConsent:   "Påloggingen sluttet å virke, og kontoen har fått e-post med beskjed om å logge inn på nytt. Slik sender du e-posten på nytt: %[1]s",
		hintError:          "Siste feil: %[1]s. Detaljene står i loggen. Når årsaken er rettet, kjører du: %[2]s",
		hintUnlicensed:     "SuperOffice-installasjonen har flere koblinger enn lisenser, så denne koblingen synkroniseres ikke. Skaff flere SuperOffice-brukerlisenser eller fjern koblinger fra konfigurasjonen.",
		digestFooter:       "Denne oversikten sendes høyst én gang hver 12. time så lenge koblinger trenger oppfølging. Hele bildet får du ved å kjøre dette på serveren: %[1]s",
	}
}

func swedish() *catalog {
	return &catalog{
		tag:    "sv",
		months: [12]string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"},
		date:   "%[1]d %[2]s %[3]d kl. %[4]s (%[5]s)",

		subjectActivationUser:     "Koppla din kalender till SuperOffice",
		subjectActivationResource: "Koppla kalendern för %[1]s till SuperOffice",
		subjectExpiredUser:        "Kalendersynkroniseringen har stoppat – logga in igen",
		subjectExpiredResource:    "Kalendersynkroniseringen för %[1]s har stoppat – logga in igen",
		subjectDigestOne:          "Synchronizer: 1 koppling behöver åtgärdas",
		subjectDigestOther:        "Synchronizer: %[1]d kopplingar behöver åtgärdas",

		hello:         "Hej %[1]s,",
		helloResource: "Hej,",

		introActivationUser:     "Din SuperOffice-dagbok ska nu hållas synkroniserad med din %[1]s-kalender (%[2]s).",
		introActivationResource: "SuperOffice-resursen %[1]s ska nu hållas synkroniserad med %[2]s-kalendern %[3]s.",
		introExpiredUser:        "Kopplingen mellan SuperOffice och din %[1]s-kalender (%[2]s) har slutat fungera, så dina möten synkroniseras inte längre.",
		introExpiredResource:    "Kopplingen mellan SuperOffice-resursen %[1]s och %[2]s-kalendern %[3]s har slutat fungera, så dess bokningar synkroniseras inte längre.",
		expiredCause:            "Det händer oftast efter ett lösenordsbyte, eller när en säkerhetsregel avslutar inloggningen.",

		dirTwoWay:        "Möten som läggs till eller ändras på ena sidan dyker automatiskt upp på den andra.",
		dirToCalendar:    "Möten från SuperOffice kopieras automatiskt till kalendern.",
		dirToSuperOffice: "Möten från kalendern kopieras automatiskt till SuperOffice.",

		signInAs:           "Öppna länken nedan och logga in som %[1]s.",
		signInResourceSelf: "Öppna länken nedan och logga in som själva resursen, med kontot %[1]s.",
		signInManager:      "Öppna länken nedan och logga in med ett konto som hanterar kalendern %[1]s.",
		onceOnly:           "Det behövs bara en gång.",
		catchUp:            "Ändringar som gjorts under tiden synkroniseras så snart inloggningen är klar.",

		buttonActivate:  "Koppla kalendern",
		buttonReconnect: "Logga in igen",
		linkFallback:    "Om knappen inte fungerar kan du kopiera den här adressen till webbläsaren:",
		expires:         "Länken kan användas en gång och slutar gälla %[1]s.",
		ignore:          "Om du inte väntade dig det här mejlet kan du bortse från det: ingenting händer förrän någon loggar in.",
		footer:          "Skickat av Synchronizer för profilen %[1]s.",

		digestIntro:        "De här kopplingarna behöver åtgärdas:",
		statePending:       "Inte aktiverad än",
		stateNeedsConsent:  "Inloggningen har gått ut",
		stateError:         "Synkroniseringsfel",
		stateUnlicensed:    "Licens saknas",
		colProfile:         "Profil",
		colLink:            "Koppling",
		colAccount:         "Konto",
		colSince:           "Sedan",
		colDetails:         "Att göra",
		hintPending:        "Ingen har loggat in än. Skicka aktiveringsmejlet igen med: %[1]s",
		hintPendingExpired: "Aktiveringslänken gick ut %[1]s utan att någon loggade in. Skicka en ny med: %[2]s",
		hintNeedsConsent:   "Inloggningen slutade fungera och kontot har fått ett mejl om att logga in igen. Skicka mejlet igen med: %[1]s",
		hintError:          "Senaste fel: %[1]s. Detaljer finns i loggen. När orsaken är åtgärdad kör du: %[2]s",
		hintUnlicensed:     "SuperOffice-installationen har fler kopplingar än licenser, så den här kopplingen synkroniseras inte. Skaffa fler SuperOffice-användarlicenser eller ta bort kopplingar från konfigurationen.",
		digestFooter:       "Den här sammanfattningen skickas högst en gång var 12:e timme så länge kopplingar behöver åtgärdas. Helheten ser du genom att köra detta på servern: %[1]s",
	}
}

func danish() *catalog {
	return &catalog{
		tag:    "da",
		months: [12]string{"januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober", "november", "december"},
		date:   "%[1]d. %[2]s %[3]d kl. %[4]s (%[5]s)",

		subjectActivationUser:     "Forbind din kalender med SuperOffice",
		subjectActivationResource: "Forbind kalenderen for %[1]s med SuperOffice",
		subjectExpiredUser:        "Kalendersynkroniseringen er stoppet – log ind igen",
		subjectExpiredResource:    "Kalendersynkroniseringen for %[1]s er stoppet – log ind igen",
		subjectDigestOne:          "Synchronizer: 1 forbindelse kræver opmærksomhed",
		subjectDigestOther:        "Synchronizer: %[1]d forbindelser kræver opmærksomhed",

		hello:         "Hej %[1]s,",
		helloResource: "Hej,",

		introActivationUser:     "Din SuperOffice-dagbog bliver nu holdt synkroniseret med din %[1]s-kalender (%[2]s).",
		introActivationResource: "SuperOffice-ressourcen %[1]s bliver nu holdt synkroniseret med %[2]s-kalenderen %[3]s.",
		introExpiredUser:        "Forbindelsen mellem SuperOffice og din %[1]s-kalender (%[2]s) virker ikke længere, så dine aftaler bliver ikke synkroniseret.",
		introExpiredResource:    "Forbindelsen mellem SuperOffice-ressourcen %[1]s og %[2]s-kalenderen %[3]s virker ikke længere, så aftalerne bliver ikke synkroniseret.",
		expiredCause:            "Det sker som regel efter et skift af adgangskode, eller når en sikkerhedspolitik afslutter login.",

		dirTwoWay:        "Aftaler, der oprettes eller ændres i den ene side, dukker automatisk op i den anden.",
		dirToCalendar:    "Aftaler fra SuperOffice bliver automatisk kopieret til kalenderen.",
		dirToSuperOffice: "Aftaler fra kalenderen bliver automatisk kopieret til SuperOffice.",

		signInAs:           "Åbn linket nedenfor, og log ind som %[1]s.",
		signInResourceSelf: "Åbn linket nedenfor, og log ind som selve ressourcen med kontoen %[1]s.",
		signInManager:      "Åbn linket nedenfor, og log ind med en konto, der administrerer kalenderen %[1]s.",
		onceOnly:           "Det skal kun gøres én gang.",
		catchUp:            "Ændringer, der er foretaget i mellemtiden, bliver synkroniseret, så snart login er gennemført.",

		buttonActivate:  "Forbind kalenderen",
		buttonReconnect: "Log ind igen",
		linkFallback:    "Hvis knappen ikke virker, så kopiér denne adresse ind i din browser:",
		expires:         "Linket kan bruges én gang og udløber %[1]s.",
		ignore:          "Hvis du ikke ventede denne mail, kan du se bort fra den: der sker ikke noget, før nogen logger ind.",
		footer:          "Sendt af Synchronizer for profilen %[1]s.",

		digestIntro:        "Disse forbindelser kræver opmærksomhed:",
		statePending:       "Ikke aktiveret endnu",
		stateNeedsConsent:  "Login er udløbet",
		stateError:         "Synkroniseringsfejl",
		stateUnlicensed:    "Mangler licens",
		colProfile:         "Profil",
		colLink:            "Forbindelse",
		colAccount:         "Konto",
		colSince:           "Siden",
		colDetails:         "Hvad skal der gøres",
		hintPending:        "Ingen har logget ind endnu. Send aktiveringsmailen igen med: %[1]s",
		hintPendingExpired: "Aktiveringslinket udløb %[1]s, uden at nogen loggede ind. Send et nyt med: %[2]s",
		hintNeedsConsent:   "Login holdt op med at virke, og kontoen har fået en mail om at logge ind igen. Send mailen igen med: %[1]s",
		hintError:          "Seneste fejl: %[1]s. Detaljerne står i loggen. Når årsagen er rettet, skal du køre: %[2]s",
		hintUnlicensed:     "SuperOffice-installationen har flere forbindelser end licenser, så denne forbindelse bliver ikke synkroniseret. Køb flere SuperOffice-brugerlicenser, eller fjern forbindelser fra konfigurationen.",
		digestFooter:       "Denne oversigt sendes højst én gang hver 12. time, så længe forbindelser kræver opmærksomhed. Det fulde overblik får du ved at køre dette på serveren: %[1]s",
	}
}

func german() *catalog {
	return &catalog{
		tag:    "de",
		months: [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		date:   "%[1]d. %[2]s %[3]d, %[4]s Uhr (%[5]s)",

		subjectActivationUser:     "Verbinden Sie Ihren Kalender mit SuperOffice",
		subjectActivationResource: "Verbinden Sie den Kalender von %[1]s mit SuperOffice",
		subjectExpiredUser:        "Kalendersynchronisierung angehalten – bitte melden Sie sich erneut an",
		subjectExpiredResource:    "Kalendersynchronisierung für %[1]s angehalten – bitte erneut anmelden",
		subjectDigestOne:          "Synchronizer: 1 Verknüpfung erfordert Aufmerksamkeit",
		subjectDigestOther:        "Synchronizer: %[1]d Verknüpfungen erfordern Aufmerksamkeit",

		hello:         "Guten Tag %[1]s,",
		helloResource: "Guten Tag,",

		introActivationUser:     "Ihr SuperOffice-Tagebuch wird künftig mit Ihrem %[1]s-Kalender (%[2]s) synchron gehalten.",
		introActivationResource: "Die SuperOffice-Ressource %[1]s wird künftig mit dem %[2]s-Kalender %[3]s synchron gehalten.",
		introExpiredUser:        "Die Verbindung zwischen SuperOffice und Ihrem %[1]s-Kalender (%[2]s) funktioniert nicht mehr, daher werden Ihre Termine nicht mehr abgeglichen.",
		introExpiredResource:    "Die Verbindung zwischen der SuperOffice-Ressource %[1]s und dem %[2]s-Kalender %[3]s funktioniert nicht mehr, daher werden ihre Termine nicht mehr abgeglichen.",
		expiredCause:            "Das passiert meist nach einer Passwortänderung oder wenn eine Sicherheitsrichtlinie die Anmeldung beendet.",

		dirTwoWay:        "Termine, die auf einer Seite angelegt oder geändert werden, erscheinen automatisch auf der anderen.",
		dirToCalendar:    "Termine aus SuperOffice werden automatisch in den Kalender übertragen.",
		dirToSuperOffice: "Termine aus dem Kalender werden automatisch nach SuperOffice übertragen.",

		signInAs:           "Öffnen Sie den Link unten und melden Sie sich als %[1]s an.",
		signInResourceSelf: "Öffnen Sie den Link unten und melden Sie sich als die Ressource selbst an, also mit dem Konto %[1]s.",
		signInManager:      "Öffnen Sie den Link unten und melden Sie sich mit einem Konto an, das den Kalender %[1]s verwaltet.",
		onceOnly:           "Das ist nur einmal nötig.",
		catchUp:            "Änderungen aus der Zwischenzeit werden abgeglichen, sobald die Anmeldung abgeschlossen ist.",

		buttonActivate:  "Kalender verbinden",
		buttonReconnect: "Erneut anmelden",
		linkFallback:    "Falls die Schaltfläche nicht funktioniert, kopieren Sie diese Adresse in Ihren Browser:",
		expires:         "Der Link kann einmal verwendet werden und läuft am %[1]s ab.",
		ignore:          "Falls Sie diese E-Mail nicht erwartet haben, können Sie sie ignorieren: Es passiert nichts, bis sich jemand anmeldet.",
		footer:          "Gesendet von Synchronizer für das Profil %[1]s.",

		digestIntro:        "Diese Verknüpfungen erfordern Aufmerksamkeit:",
		statePending:       "Noch nicht aktiviert",
		stateNeedsConsent:  "Anmeldung abgelaufen",
		stateError:         "Synchronisierungsfehler",
		stateUnlicensed:    "Keine Lizenz",
		colProfile:         "Profil",
		colLink:            "Verknüpfung",
		colAccount:         "Konto",
		colSince:           "Seit",
		colDetails:         "Was zu tun ist",
		hintPending:        "Es hat sich noch niemand angemeldet. Aktivierungs-E-Mail erneut senden mit: %[1]s",
		hintPendingExpired: "Der Aktivierungslink ist am %[1]s abgelaufen, ohne dass sich jemand angemeldet hat. Neuen Link senden mit: %[2]s",
		hintNeedsConsent:   "Die Anmeldung funktioniert nicht mehr; das Konto wurde per E-Mail gebeten, sich erneut anzumelden. E-Mail erneut senden mit: %[1]s",
		hintError:          "Letzter Fehler: %[1]s. Details stehen im Log. Sobald die Ursache behoben ist, führen Sie Folgendes aus: %[2]s",
		hintUnlicensed:     "Die SuperOffice-Installation hat mehr Verknüpfungen als Lizenzen, daher wird diese Verknüpfung nicht synchronisiert. Erwerben Sie weitere SuperOffice-Benutzerlizenzen oder entfernen Sie Verknüpfungen aus der Konfiguration.",
		digestFooter:       "Diese Übersicht wird höchstens alle 12 Stunden versendet, solange Verknüpfungen Aufmerksamkeit erfordern. Den vollständigen Überblick erhalten Sie auf dem Server mit: %[1]s",
	}
}

func dutch() *catalog {
	return &catalog{
		tag:    "nl",
		months: [12]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
		date:   "%[1]d %[2]s %[3]d om %[4]s (%[5]s)",

		subjectActivationUser:     "Koppel je agenda aan SuperOffice",
		subjectActivationResource: "Koppel de agenda van %[1]s aan SuperOffice",
		subjectExpiredUser:        "Je agendasynchronisatie is gestopt – meld je opnieuw aan",
		subjectExpiredResource:    "Agendasynchronisatie voor %[1]s is gestopt – meld je opnieuw aan",
		subjectDigestOne:          "Synchronizer: 1 koppeling vraagt aandacht",
		subjectDigestOther:        "Synchronizer: %[1]d koppelingen vragen aandacht",

		hello:         "Hallo %[1]s,",
		helloResource: "Hallo,",

		introActivationUser:     "Je agenda in SuperOffice wordt voortaan gesynchroniseerd met je %[1]s-agenda (%[2]s).",
		introActivationResource: "De SuperOffice-resource %[1]s wordt voortaan gesynchroniseerd met de %[2]s-agenda %[3]s.",
		introExpiredUser:        "De koppeling tussen SuperOffice en je %[1]s-agenda (%[2]s) werkt niet meer, waardoor je afspraken niet langer worden gesynchroniseerd.",
		introExpiredResource:    "De koppeling tussen de SuperOffice-resource %[1]s en de %[2]s-agenda %[3]s werkt niet meer, waardoor de afspraken niet langer worden gesynchroniseerd.",
		expiredCause:            "Dat gebeurt meestal na een wachtwoordwijziging, of wanneer een beveiligingsbeleid de aanmelding beëindigt.",

		dirTwoWay:        "Afspraken die aan de ene kant worden toegevoegd of gewijzigd, verschijnen vanzelf aan de andere kant.",
		dirToCalendar:    "Afspraken uit SuperOffice worden vanzelf naar de agenda gekopieerd.",
		dirToSuperOffice: "Afspraken uit de agenda worden vanzelf naar SuperOffice gekopieerd.",

		signInAs:           "Open de link hieronder en meld je aan als %[1]s.",
		signInResourceSelf: "Open de link hieronder en meld je aan als de resource zelf, met het account %[1]s.",
		signInManager:      "Open de link hieronder en meld je aan met een account dat de agenda %[1]s beheert.",
		onceOnly:           "Dit hoeft maar één keer.",
		catchUp:            "Wijzigingen die in de tussentijd zijn gemaakt, worden gesynchroniseerd zodra de aanmelding is voltooid.",

		buttonActivate:  "Agenda koppelen",
		buttonReconnect: "Opnieuw aanmelden",
		linkFallback:    "Werkt de knop niet? Kopieer dan dit adres naar je browser:",
		expires:         "De link kan één keer worden gebruikt en verloopt op %[1]s.",
		ignore:          "Had je deze e-mail niet verwacht? Dan kun je hem negeren: er gebeurt niets totdat iemand zich aanmeldt.",
		footer:          "Verzonden door Synchronizer voor het profiel %[1]s.",

		digestIntro:        "Deze koppelingen vragen aandacht:",
		statePending:       "Nog niet geactiveerd",
		stateNeedsConsent:  "Aanmelding verlopen",
		stateError:         "Synchronisatiefout",
		stateUnlicensed:    "Geen licentie",
		colProfile:         "Profiel",
		colLink:            "Koppeling",
		colAccount:         "Account",
		colSince:           "Sinds",
		colDetails:         "Wat te doen",
		hintPending:        "Er heeft zich nog niemand aangemeld. Verstuur de activeringsmail opnieuw met: %[1]s",
		hintPendingExpired: "De activeringslink is op %[1]s verlopen zonder dat iemand zich heeft aangemeld. Verstuur een nieuwe met: %[2]s",
		hintNeedsConsent:   "De aanmelding werkt niet meer; het account heeft een e-mail gekregen met het verzoek zich opnieuw aan te melden. Verstuur die e-mail opnieuw met: %[1]s",
		hintError:          "Laatste fout: %[1]s. Details staan in het logboek. Is de oorzaak verholpen, voer dan dit uit: %[2]s",
		hintUnlicensed:     "De SuperOffice-installatie heeft meer koppelingen dan licenties, dus deze koppeling wordt niet gesynchroniseerd. Schaf extra SuperOffice-gebruikerslicenties aan of verwijder koppelingen uit de configuratie.",
		digestFooter:       "Dit overzicht wordt hoogstens eens per 12 uur verstuurd zolang koppelingen aandacht vragen. Voor het volledige overzicht voer je dit uit op de server: %[1]s",
	}
}
