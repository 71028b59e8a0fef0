package web

import (
	"fmt"
	"strings"
	"time"
)

// consentText holds every sentence of the consent pages in one language.
// Arguments are positional (%[1]s …) so each language orders them as it needs.
// The strings are plain text; html/template escapes them.
type consentText struct {
	tag    string
	months [12]string
	date   string // %[1]d day, %[2]s month, %[3]d year, %[4]s hh:mm, %[5]s zone

	headUser      string
	headResource  string // %[1]s resource
	headAdmin     string // %[1]s system, %[2]s block name
	headReconnect string
	introUser     string // %[1]s system, %[2]s mailbox, %[3]s profile
	introResource string // %[1]s resource, %[2]s system, %[3]s calendar, %[4]s profile
	introAdmin    string // %[1]s system
	reconnect     string
	signInAs      string // %[1]s account
	signInManager string // %[1]s calendar, %[2]s system
	signInAdmin   string // %[1]s system
	connected     string // %[1]s account
	button        string // %[1]s system
	expires       string // %[1]s date
	privacy       string // %[1]s system

	doneHead     string
	doneUser     string // %[1]s system, %[2]s account
	doneResource string // %[1]s resource, %[2]s system
	doneAdmin    string // %[1]s system, %[2]s account
	doneClose    string

	errHead map[ConsentErrorKind]string
	errText map[ConsentErrorKind]string
	errNext map[ConsentErrorKind]string
	// wrongText/wrongNext: %[1]s who signed in, %[2]s the account expected.
	wrongText   string
	wrongNext   string
	notAdminWho string // %[1]s who signed in
	retry       string
	detail      string
	footer      string // %[1]s profile
}

// consentLanguage returns the texts for a language code ("de", "nb", "sv-SE"),
// English when there are none.
func consentLanguage(code string) *consentText {
	code = strings.ToLower(strings.TrimSpace(code))
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		code = code[:i]
	}
	switch code {
	case "no", "nb", "nn":
		return consentNorwegian
	case "sv":
		return consentSwedish
	case "da":
		return consentDanish
	case "de":
		return consentGerman
	case "nl":
		return consentDutch
	}
	return consentEnglish
}

func (c *consentText) formatDate(t time.Time) string {
	return fmt.Sprintf(c.date, t.Day(), c.months[t.Month()-1], t.Year(), t.Format("15:04"), t.Format("MST"))
}

// The catalogs are immutable after package initialisation.
var (
	consentEnglish = &consentText{
		tag:    "en",
		months: [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		date:   "%[1]d %[2]s %[3]d at %[4]s (%[5]s)",

		headUser:      "Connect your calendar",
		headResource:  "Connect the calendar of %[1]s",
		headAdmin:     "Grant access to %[1]s (%[2]s)",
		headReconnect: "Sign in again to restart the calendar sync",
		introUser:     "Your SuperOffice diary will be kept in sync with your %[1]s calendar %[2]s (profile %[3]s).",
		introResource: "The SuperOffice resource %[1]s will be kept in sync with the %[2]s calendar %[3]s (profile %[4]s).",
		introAdmin:    "An administrator signs in once, so that Synchronizer can reach %[1]s for every linked user and resource.",
		reconnect:     "The previous sign-in stopped working, usually after a password change or because a security policy ended it. Signing in again restarts the sync; nothing is lost.",
		signInAs:      "Sign in with the account %[1]s.",
		signInManager: "Sign in with an account that manages the calendar %[1]s (a %[2]s administrator).",
		signInAdmin:   "Sign in with an administrator account of %[1]s.",
		connected:     "Access is currently granted by %[1]s; signing in again replaces it.",
		button:        "Sign in with %[1]s",
		expires:       "This link works once and expires on %[1]s.",
		privacy:       "Your password goes only to %[1]s; Synchronizer never sees it.",

		doneHead:     "All set",
		doneUser:     "Your %[1]s calendar %[2]s is now connected to SuperOffice. The first sync starts right away.",
		doneResource: "The calendar of %[1]s is now connected to SuperOffice through %[2]s. The first sync starts right away.",
		doneAdmin:    "Synchronizer now has access to %[1]s, granted by %[2]s.",
		doneClose:    "You can close this window.",

		errHead: map[ConsentErrorKind]string{
			ErrConsentInternal:      "Something went wrong on our side",
			ErrConsentUnknown:       "This link is not valid",
			ErrConsentExpired:       "This link has expired",
			ErrConsentUsed:          "This link has already been used",
			ErrConsentDenied:        "Access was not granted",
			ErrConsentWrongAccount:  "Signed in with another account",
			ErrConsentNotAdmin:      "This account cannot grant the access",
			ErrConsentState:         "This sign-in could not be completed",
			ErrConsentProvider:      "The sign-in service reported a problem",
			ErrConsentTokenExchange: "The sign-in could not be confirmed",
			ErrConsentSetupClosed:   "This setup link is not open",
			ErrConsentNotNeeded:     "No sign-in is needed here",
			ErrConsentUnavailable:   "Synchronizer cannot complete this right now",
		},
		errText: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "The account used is not the one this link is for. Nothing was changed.",
			ErrConsentNotAdmin:      "The account used may not grant this access. Nothing was changed.",
			ErrConsentInternal:      "Nothing was changed.",
			ErrConsentUnknown:       "It may be incomplete, or a newer link has replaced it.",
			ErrConsentExpired:       "Activation links work for a limited time, and this one ran out before anyone signed in.",
			ErrConsentUsed:          "The calendar was connected with it, and a link works only once.",
			ErrConsentDenied:        "The sign-in was cancelled or access was declined, so nothing was changed.",
			ErrConsentState:         "It did not match a sign-in started in this browser: it took too long, was finished in another browser, or was already completed. Nothing was changed.",
			ErrConsentProvider:      "Nothing was changed.",
			ErrConsentTokenExchange: "The sign-in service did not confirm the sign-in to Synchronizer. Nothing was changed.",
			ErrConsentSetupClosed:   "An administrator opens a setup link on the server; it then works for a limited time and once.",
			ErrConsentNotNeeded:     "Access for this system is configured on the server, or each account connects through its own activation link.",
			ErrConsentUnavailable:   "Nothing was changed.",
		},
		errNext: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Sign out (or use a private browser window), then open the link again.",
			ErrConsentNotAdmin:      "Open the link again and sign in with an administrator account.",
			ErrConsentInternal:      "Try again in a few minutes. If it keeps failing, tell your administrator.",
			ErrConsentUnknown:       "Open the newest link you received, copied in full, or ask your administrator for a new one.",
			ErrConsentExpired:       "Ask your administrator for a new link.",
			ErrConsentUsed:          "There is nothing more to do. If the sync has stopped since, ask your administrator for a new link.",
			ErrConsentDenied:        "To connect the calendar, open the link again and accept.",
			ErrConsentState:         "Open the link again, in the same browser, and finish the sign-in within a few minutes.",
			ErrConsentProvider:      "Try again in a few minutes. If it keeps failing, tell your administrator.",
			ErrConsentTokenExchange: "Try again in a few minutes. If it keeps failing, tell your administrator.",
			ErrConsentSetupClosed:   "To open it, run this on the server:",
			ErrConsentNotNeeded:     "There is nothing to do here.",
			ErrConsentUnavailable:   "Try again in a few minutes. If it keeps failing, tell your administrator.",
		},
		wrongText:   "You signed in as %[1]s, but this link is for %[2]s. Nothing was changed.",
		wrongNext:   "Sign out of %[1]s (or use a private browser window), then open the link again and sign in as %[2]s.",
		notAdminWho: "%[1]s may not grant this access. Nothing was changed.",
		retry:       "Open the link again",
		detail:      "The sign-in service said:",
		footer:      "profile %[1]s",
	}

	consentNorwegian = &consentText{
		tag:    "no",
		months: [12]string{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "desember"},
		date:   "%[1]d. %[2]s %[3]d kl. %[4]s (%[5]s)",

		headUser:      "Koble til kalenderen din",
		headResource:  "Koble til kalenderen til %[1]s",
		headAdmin:     "Gi tilgang til %[1]s (%[2]s)",
		headReconnect: "Logg inn på nytt for å starte kalendersynkroniseringen igjen",
		introUser:     "SuperOffice-dagboken din blir holdt synkronisert med %[1]s-kalenderen %[2]s (profil %[3]s).",
		introResource: "SuperOffice-ressursen %[1]s blir holdt synkronisert med %[2]s-kalenderen %[3]s (profil %[4]s).",
		introAdmin:    "En administrator logger inn én gang, slik at Synchronizer når %[1]s for alle koblede brukere og ressurser.",
		reconnect:     "Den forrige påloggingen sluttet å virke, som regel etter et passordbytte eller fordi en sikkerhetsregel avsluttet den. Når du logger inn på nytt, starter synkroniseringen igjen; ingenting går tapt.",
		signInAs:      "Logg inn med kontoen %[1]s.",
		signInManager: "Logg inn med en konto som administrerer kalenderen %[1]s (en %[2]s-administrator).",
		signInAdmin:   "Logg inn med en administratorkonto for %[1]s.",
		connected:     "Tilgangen er nå gitt av %[1]s; en ny pålogging erstatter den.",
		button:        "Logg inn med %[1]s",
		expires:       "Lenken virker én gang og utløper %[1]s.",
		privacy:       "Passordet ditt går bare til %[1]s; Synchronizer ser det aldri.",

		doneHead:     "Alt er klart",
		doneUser:     "%[1]s-kalenderen din %[2]s er nå koblet til SuperOffice. Den første synkroniseringen starter med en gang.",
		doneResource: "Kalenderen til %[1]s er nå koblet til SuperOffice via %[2]s. Den første synkroniseringen starter med en gang.",
		doneAdmin:    "Synchronizer har nå tilgang til %[1]s, gitt av %[2]s.",
		doneClose:    "Du kan lukke dette vinduet.",

		errHead: map[ConsentErrorKind]string{
			ErrConsentInternal:      "Noe gikk galt hos oss",
			ErrConsentUnknown:       "Denne lenken er ikke gyldig",
			ErrConsentExpired:       "Denne lenken har utløpt",
			ErrConsentUsed:          "Denne lenken er allerede brukt",
			ErrConsentDenied:        "Tilgang ble ikke gitt",
			ErrConsentWrongAccount:  "Logget inn med en annen konto",
			ErrConsentNotAdmin:      "Denne kontoen kan ikke gi tilgangen",
			ErrConsentState:         "Påloggingen kunne ikke fullføres",
			ErrConsentProvider:      "Påloggingstjenesten meldte om et problem",
			ErrConsentTokenExchange: "Påloggingen kunne ikke bekreftes",
			ErrConsentSetupClosed:   "Denne oppsettlenken er ikke åpen",
			ErrConsentNotNeeded:     "Her trengs ingen pålogging",
			ErrConsentUnavailable:   "Synchronizer kan ikke fullføre dette akkurat nå",
		},
		errText: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Kontoen som ble brukt, er ikke den lenken gjelder. Ingenting ble endret.",
			ErrConsentNotAdmin:      "Kontoen som ble brukt, har ikke lov til å gi denne tilgangen. Ingenting ble endret.",
			ErrConsentInternal:      "Ingenting ble endret.",
			ErrConsentUnknown:       "Den kan være ufullstendig, eller erstattet av en nyere lenke.",
			ErrConsentExpired:       "Aktiveringslenker virker en begrenset tid, og denne gikk ut før noen logget inn.",
			ErrConsentUsed:          "Kalenderen ble koblet til med den, og en lenke virker bare én gang.",
			ErrConsentDenied:        "Påloggingen ble avbrutt eller tilgangen avslått, så ingenting ble endret.",
			ErrConsentState:         "Den passet ikke til en pålogging startet i denne nettleseren: den tok for lang tid, ble fullført i en annen nettleser eller var allerede fullført. Ingenting ble endret.",
			ErrConsentProvider:      "Ingenting ble endret.",
			ErrConsentTokenExchange: "Påloggingstjenesten bekreftet ikke påloggingen overfor Synchronizer. Ingenting ble endret.",
			ErrConsentSetupClosed:   "En administrator åpner en oppsettlenke på serveren; den virker da en begrenset tid og én gang.",
			ErrConsentNotNeeded:     "Tilgangen til dette systemet settes opp på serveren, eller hver konto kobles til med sin egen aktiveringslenke.",
			ErrConsentUnavailable:   "Ingenting ble endret.",
		},
		errNext: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Logg ut (eller bruk et privat nettleservindu), og åpne lenken igjen.",
			ErrConsentNotAdmin:      "Åpne lenken igjen og logg inn med en administratorkonto.",
			ErrConsentInternal:      "Prøv igjen om noen minutter. Hvis det fortsatt feiler, si fra til administratoren din.",
			ErrConsentUnknown:       "Åpne den nyeste lenken du har fått, kopiert i sin helhet, eller be administratoren din om en ny.",
			ErrConsentExpired:       "Be administratoren din om en ny lenke.",
			ErrConsentUsed:          "Du trenger ikke gjøre mer. Hvis synkroniseringen har stoppet siden, be administratoren din om en ny lenke.",
			ErrConsentDenied:        "For å koble til kalenderen, åpne lenken igjen og godta.",
			ErrConsentState:         "Åpne lenken igjen i samme nettleser, og fullfør påloggingen i løpet av noen minutter.",
			ErrConsentProvider:      "Prøv igjen om noen minutter. Hvis det fortsatt feiler, si fra til administratoren din.",
			ErrConsentTokenExchange: "Prøv igjen om noen minutter. Hvis det fortsatt feiler, si fra til administratoren din.",
			ErrConsentSetupClosed:   "Kjør dette på serveren for å åpne den:",
			ErrConsentNotNeeded:     "Her er det ingenting å gjøre.",
			ErrConsentUnavailable:   "Prøv igjen om noen minutter. Hvis det fortsatt feiler, si fra til administratoren din.",
		},
		wrongText:   "Du logget inn som %[1]s, men denne lenken gjelder %[2]s. Ingenting ble endret.",
		wrongNext:   "Logg ut av %[1]s (eller bruk et privat nettleservindu), åpne lenken igjen og logg inn som %[2]s.",
		notAdminWho: "%[1]s har ikke lov til å gi denne tilgangen. Ingenting ble endret.",
		retry:       "Åpne lenken igjen",
		detail:      "Påloggingstjenesten svarte:",
		footer:      "profil %[1]s",
	}

	consentSwedish = &consentText{
		tag:    "sv",
		months: [12]string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"},
		date:   "%[1]d %[2]s %[3]d kl. %[4]s (%[5]s)",

		headUser:      "Anslut din kalender",
		headResource:  "Anslut kalendern för %[1]s",
		headAdmin:     "Ge åtkomst till %[1]s (%[2]s)",
		headReconnect: "Logga in igen för att starta kalendersynkroniseringen på nytt",
		introUser:     "Din SuperOffice-dagbok hålls synkroniserad med din %[1]s-kalender %[2]s (profil %[3]s).",
		introResource: "SuperOffice-resursen %[1]s hålls synkroniserad med %[2]s-kalendern %[3]s (profil %[4]s).",
		introAdmin:    "En administratör loggar in en gång, så att Synchronizer når %[1]s för alla kopplade användare och resurser.",
		reconnect:     "Den förra inloggningen slutade fungera, oftast efter ett lösenordsbyte eller för att en säkerhetsregel avslutade den. När du loggar in igen startar synkroniseringen på nytt; inget går förlorat.",
		signInAs:      "Logga in med kontot %[1]s.",
		signInManager: "Logga in med ett konto som hanterar kalendern %[1]s (en %[2]s-administratör).",
		signInAdmin:   "Logga in med ett administratörskonto för %[1]s.",
		connected:     "Åtkomsten ges nu av %[1]s; en ny inloggning ersätter den.",
		button:        "Logga in med %[1]s",
		expires:       "Länken fungerar en gång och upphör att gälla %[1]s.",
		privacy:       "Ditt lösenord går bara till %[1]s; Synchronizer ser det aldrig.",

		doneHead:     "Klart",
		doneUser:     "Din %[1]s-kalender %[2]s är nu ansluten till SuperOffice. Den första synkroniseringen startar direkt.",
		doneResource: "Kalendern för %[1]s är nu ansluten till SuperOffice via %[2]s. Den första synkroniseringen startar direkt.",
		doneAdmin:    "Synchronizer har nu åtkomst till %[1]s, given av %[2]s.",
		doneClose:    "Du kan stänga det här fönstret.",

		errHead: map[ConsentErrorKind]string{
			ErrConsentInternal:      "Något gick fel hos oss",
			ErrConsentUnknown:       "Den här länken är inte giltig",
			ErrConsentExpired:       "Den här länken har gått ut",
			ErrConsentUsed:          "Den här länken har redan använts",
			ErrConsentDenied:        "Åtkomst gavs inte",
			ErrConsentWrongAccount:  "Inloggad med ett annat konto",
			ErrConsentNotAdmin:      "Det här kontot kan inte ge åtkomsten",
			ErrConsentState:         "Inloggningen kunde inte slutföras",
			ErrConsentProvider:      "Inloggningstjänsten rapporterade ett problem",
			ErrConsentTokenExchange: "Inloggningen kunde inte bekräftas",
			ErrConsentSetupClosed:   "Den här installationslänken är inte öppen",
			ErrConsentNotNeeded:     "Ingen inloggning behövs här",
			ErrConsentUnavailable:   "Synchronizer kan inte slutföra det här just nu",
		},
		errText: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Kontot som användes är inte det som länken gäller. Ingenting ändrades.",
			ErrConsentNotAdmin:      "Kontot som användes får inte ge den här åtkomsten. Ingenting ändrades.",
			ErrConsentInternal:      "Ingenting ändrades.",
			ErrConsentUnknown:       "Den kan vara ofullständig, eller ersatt av en nyare länk.",
			ErrConsentExpired:       "Aktiveringslänkar fungerar en begränsad tid, och den här gick ut innan någon loggade in.",
			ErrConsentUsed:          "Kalendern anslöts med den, och en länk fungerar bara en gång.",
			ErrConsentDenied:        "Inloggningen avbröts eller åtkomsten nekades, så ingenting ändrades.",
			ErrConsentState:         "Den matchade ingen inloggning som startats i den här webbläsaren: den tog för lång tid, slutfördes i en annan webbläsare eller var redan slutförd. Ingenting ändrades.",
			ErrConsentProvider:      "Ingenting ändrades.",
			ErrConsentTokenExchange: "Inloggningstjänsten bekräftade inte inloggningen för Synchronizer. Ingenting ändrades.",
			ErrConsentSetupClosed:   "En administratör öppnar en installationslänk på servern; den fungerar sedan en begränsad tid och en gång.",
			ErrConsentNotNeeded:     "Åtkomsten till det här systemet konfigureras på servern, eller så ansluts varje konto med sin egen aktiveringslänk.",
			ErrConsentUnavailable:   "Ingenting ändrades.",
		},
		errNext: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Logga ut (eller använd ett privat webbläsarfönster) och öppna länken igen.",
			ErrConsentNotAdmin:      "Öppna länken igen och logga in med ett administratörskonto.",
			ErrConsentInternal:      "Försök igen om några minuter. Om det fortsätter att misslyckas, kontakta din administratör.",
			ErrConsentUnknown:       "Öppna den senaste länken du fått, kopierad i sin helhet, eller be din administratör om en ny.",
			ErrConsentExpired:       "Be din administratör om en ny länk.",
			ErrConsentUsed:          "Du behöver inte göra något mer. Om synkroniseringen har stannat sedan dess, be din administratör om en ny länk.",
			ErrConsentDenied:        "För att ansluta kalendern, öppna länken igen och godkänn.",
			ErrConsentState:         "Öppna länken igen i samma webbläsare och slutför inloggningen inom några minuter.",
			ErrConsentProvider:      "Försök igen om några minuter. Om det fortsätter att misslyckas, kontakta din administratör.",
			ErrConsentTokenExchange: "Försök igen om några minuter. Om det fortsätter att misslyckas, kontakta din administratör.",
			ErrConsentSetupClosed:   "Kör det här på servern för att öppna den:",
			ErrConsentNotNeeded:     "Det finns inget att göra här.",
			ErrConsentUnavailable:   "Försök igen om några minuter. Om det fortsätter att misslyckas, kontakta din administratör.",
		},
		wrongText:   "Du loggade in som %[1]s, men den här länken gäller %[2]s. Ingenting ändrades.",
		wrongNext:   "Logga ut från %[1]s (eller använd ett privat webbläsarfönster), öppna länken igen och logga in som %[2]s.",
		notAdminWho: "%[1]s får inte ge den här åtkomsten. Ingenting ändrades.",
		retry:       "Öppna länken igen",
		detail:      "Inloggningstjänsten svarade:",
		footer:      "profil %[1]s",
	}

	consentDanish = &consentText{
		tag:    "da",
		months: [12]string{"januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober", "november", "december"},
		date:   "%[1]d. %[2]s %[3]d kl. %[4]s (%[5]s)",

		headUser:      "Forbind din kalender",
		headResource:  "Forbind kalenderen for %[1]s",
		headAdmin:     "Giv adgang til %[1]s (%[2]s)",
		headReconnect: "Log ind igen for at genstarte kalendersynkroniseringen",
		introUser:     "Din SuperOffice-dagbog holdes synkroniseret med din %[1]s-kalender %[2]s (profil %[3]s).",
		introResource: "SuperOffice-ressourcen %[1]s holdes synkroniseret med %[2]s-kalenderen %[3]s (profil %[4]s).",
		introAdmin:    "En administrator logger ind én gang, så Synchronizer kan nå %[1]s for alle forbundne brugere og ressourcer.",
		reconnect:     "Det forrige login holdt op med at virke, som regel efter et skift af adgangskode eller fordi en sikkerhedspolitik afsluttede det. Når du logger ind igen, genstarter synkroniseringen; intet går tabt.",
		signInAs:      "Log ind med kontoen %[1]s.",
		signInManager: "Log ind med en konto, der administrerer kalenderen %[1]s (en %[2]s-administrator).",
		signInAdmin:   "Log ind med en administratorkonto for %[1]s.",
		connected:     "Adgangen er i dag givet af %[1]s; et nyt login erstatter den.",
		button:        "Log ind med %[1]s",
		expires:       "Linket virker én gang og udløber %[1]s.",
		privacy:       "Din adgangskode går kun til %[1]s; Synchronizer ser den aldrig.",

		doneHead:     "Alt er klar",
		doneUser:     "Din %[1]s-kalender %[2]s er nu forbundet med SuperOffice. Den første synkronisering starter med det samme.",
		doneResource: "Kalenderen for %[1]s er nu forbundet med SuperOffice via %[2]s. Den første synkronisering starter med det samme.",
		doneAdmin:    "Synchronizer har nu adgang til %[1]s, givet af %[2]s.",
		doneClose:    "Du kan lukke dette vindue.",

		errHead: map[ConsentErrorKind]string{
			ErrConsentInternal:      "Noget gik galt hos os",
			ErrConsentUnknown:       "Dette link er ikke gyldigt",
			ErrConsentExpired:       "Dette link er udløbet",
			ErrConsentUsed:          "Dette link er allerede brugt",
			ErrConsentDenied:        "Adgang blev ikke givet",
			ErrConsentWrongAccount:  "Logget ind med en anden konto",
			ErrConsentNotAdmin:      "Denne konto kan ikke give adgangen",
			ErrConsentState:         "Login kunne ikke gennemføres",
			ErrConsentProvider:      "Logintjenesten meldte om et problem",
			ErrConsentTokenExchange: "Login kunne ikke bekræftes",
			ErrConsentSetupClosed:   "Dette opsætningslink er ikke åbent",
			ErrConsentNotNeeded:     "Her kræves intet login",
			ErrConsentUnavailable:   "Synchronizer kan ikke gennemføre dette lige nu",
		},
		errText: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Kontoen, der blev brugt, er ikke den, linket gælder. Intet blev ændret.",
			ErrConsentNotAdmin:      "Kontoen, der blev brugt, må ikke give denne adgang. Intet blev ændret.",
			ErrConsentInternal:      "Intet blev ændret.",
			ErrConsentUnknown:       "Det kan være ufuldstændigt eller erstattet af et nyere link.",
			ErrConsentExpired:       "Aktiveringslinks virker i begrænset tid, og dette udløb, før nogen loggede ind.",
			ErrConsentUsed:          "Kalenderen blev forbundet med det, og et link virker kun én gang.",
			ErrConsentDenied:        "Login blev afbrudt eller adgangen afvist, så intet blev ændret.",
			ErrConsentState:         "Det passede ikke til et login startet i denne browser: det tog for lang tid, blev gennemført i en anden browser eller var allerede gennemført. Intet blev ændret.",
			ErrConsentProvider:      "Intet blev ændret.",
			ErrConsentTokenExchange: "Logintjenesten bekræftede ikke login over for Synchronizer. Intet blev ændret.",
			ErrConsentSetupClosed:   "En administrator åbner et opsætningslink på serveren; det virker derefter i begrænset tid og én gang.",
			ErrConsentNotNeeded:     "Adgangen til dette system opsættes på serveren, eller hver konto forbindes med sit eget aktiveringslink.",
			ErrConsentUnavailable:   "Intet blev ændret.",
		},
		errNext: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Log ud (eller brug et privat browservindue), og åbn linket igen.",
			ErrConsentNotAdmin:      "Åbn linket igen, og log ind med en administratorkonto.",
			ErrConsentInternal:      "Prøv igen om nogle minutter. Hvis det bliver ved med at fejle, så kontakt din administrator.",
			ErrConsentUnknown:       "Åbn det nyeste link, du har fået, kopieret i sin helhed, eller bed din administrator om et nyt.",
			ErrConsentExpired:       "Bed din administrator om et nyt link.",
			ErrConsentUsed:          "Du behøver ikke gøre mere. Hvis synkroniseringen er stoppet siden, så bed din administrator om et nyt link.",
			ErrConsentDenied:        "For at forbinde kalenderen skal du åbne linket igen og acceptere.",
			ErrConsentState:         "Åbn linket igen i samme browser, og gennemfør login inden for få minutter.",
			ErrConsentProvider:      "Prøv igen om nogle minutter. Hvis det bliver ved med at fejle, så kontakt din administrator.",
			ErrConsentTokenExchange: "Prøv igen om nogle minutter. Hvis det bliver ved med at fejle, så kontakt din administrator.",
			ErrConsentSetupClosed:   "Kør dette på serveren for at åbne det:",
			ErrConsentNotNeeded:     "Her er intet at gøre.",
			ErrConsentUnavailable:   "Prøv igen om nogle minutter. Hvis det bliver ved med at fejle, så kontakt din administrator.",
		},
		wrongText:   "Du loggede ind som %[1]s, men dette link gælder %[2]s. Intet blev ændret.",
		wrongNext:   "Log ud af %[1]s (eller brug et privat browservindue), åbn linket igen, og log ind som %[2]s.",
		notAdminWho: "%[1]s må ikke give denne adgang. Intet blev ændret.",
		retry:       "Åbn linket igen",
		detail:      "Logintjenesten svarede:",
		footer:      "profil %[1]s",
	}

	consentGerman = &consentText{
		tag:    "de",
		months: [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		date:   "%[1]d. %[2]s %[3]d um %[4]s (%[5]s)",

		headUser:      "Ihren Kalender verbinden",
		headResource:  "Den Kalender von %[1]s verbinden",
		headAdmin:     "Zugriff auf %[1]s gewähren (%[2]s)",
		headReconnect: "Erneut anmelden, um die Kalendersynchronisierung fortzusetzen",
		introUser:     "Ihr SuperOffice-Tagebuch wird mit Ihrem %[1]s-Kalender %[2]s synchron gehalten (Profil %[3]s).",
		introResource: "Die SuperOffice-Ressource %[1]s wird mit dem %[2]s-Kalender %[3]s synchron gehalten (Profil %[4]s).",
		introAdmin:    "Ein Administrator meldet sich einmal an, damit Synchronizer %[1]s für alle verknüpften Benutzer und Ressourcen erreicht.",
		reconnect:     "Die bisherige Anmeldung funktioniert nicht mehr, meist nach einer Kennwortänderung oder weil eine Sicherheitsrichtlinie sie beendet hat. Nach der erneuten Anmeldung läuft die Synchronisierung weiter; nichts geht verloren.",
		signInAs:      "Melden Sie sich mit dem Konto %[1]s an.",
		signInManager: "Melden Sie sich mit einem Konto an, das den Kalender %[1]s verwaltet (ein %[2]s-Administrator).",
		signInAdmin:   "Melden Sie sich mit einem Administratorkonto von %[1]s an.",
		connected:     "Der Zugriff ist derzeit von %[1]s gewährt; eine neue Anmeldung ersetzt ihn.",
		button:        "Mit %[1]s anmelden",
		expires:       "Der Link funktioniert einmal und läuft am %[1]s ab.",
		privacy:       "Ihr Kennwort geht nur an %[1]s; Synchronizer sieht es nie.",

		doneHead:     "Alles erledigt",
		doneUser:     "Ihr %[1]s-Kalender %[2]s ist jetzt mit SuperOffice verbunden. Die erste Synchronisierung beginnt sofort.",
		doneResource: "Der Kalender von %[1]s ist jetzt über %[2]s mit SuperOffice verbunden. Die erste Synchronisierung beginnt sofort.",
		doneAdmin:    "Synchronizer hat jetzt Zugriff auf %[1]s, gewährt von %[2]s.",
		doneClose:    "Sie können dieses Fenster schließen.",

		errHead: map[ConsentErrorKind]string{
			ErrConsentInternal:      "Bei uns ist etwas schiefgegangen",
			ErrConsentUnknown:       "Dieser Link ist ungültig",
			ErrConsentExpired:       "Dieser Link ist abgelaufen",
			ErrConsentUsed:          "Dieser Link wurde bereits verwendet",
			ErrConsentDenied:        "Der Zugriff wurde nicht gewährt",
			ErrConsentWrongAccount:  "Mit einem anderen Konto angemeldet",
			ErrConsentNotAdmin:      "Dieses Konto kann den Zugriff nicht gewähren",
			ErrConsentState:         "Die Anmeldung konnte nicht abgeschlossen werden",
			ErrConsentProvider:      "Der Anmeldedienst hat ein Problem gemeldet",
			ErrConsentTokenExchange: "Die Anmeldung konnte nicht bestätigt werden",
			ErrConsentSetupClosed:   "Dieser Einrichtungslink ist nicht geöffnet",
			ErrConsentNotNeeded:     "Hier ist keine Anmeldung nötig",
			ErrConsentUnavailable:   "Synchronizer kann dies gerade nicht abschließen",
		},
		errText: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Das verwendete Konto ist nicht das, für das dieser Link gilt. Es wurde nichts geändert.",
			ErrConsentNotAdmin:      "Das verwendete Konto darf diesen Zugriff nicht gewähren. Es wurde nichts geändert.",
			ErrConsentInternal:      "Es wurde nichts geändert.",
			ErrConsentUnknown:       "Er ist vielleicht unvollständig oder wurde durch einen neueren Link ersetzt.",
			ErrConsentExpired:       "Aktivierungslinks gelten nur begrenzte Zeit, und dieser ist abgelaufen, bevor sich jemand angemeldet hat.",
			ErrConsentUsed:          "Der Kalender wurde damit verbunden, und ein Link funktioniert nur einmal.",
			ErrConsentDenied:        "Die Anmeldung wurde abgebrochen oder der Zugriff abgelehnt, daher wurde nichts geändert.",
			ErrConsentState:         "Sie passt zu keiner Anmeldung, die in diesem Browser begonnen wurde: Sie hat zu lange gedauert, wurde in einem anderen Browser beendet oder war schon abgeschlossen. Es wurde nichts geändert.",
			ErrConsentProvider:      "Es wurde nichts geändert.",
			ErrConsentTokenExchange: "Der Anmeldedienst hat Synchronizer die Anmeldung nicht bestätigt. Es wurde nichts geändert.",
			ErrConsentSetupClosed:   "Ein Administrator öffnet einen Einrichtungslink auf dem Server; er gilt dann begrenzte Zeit und einmal.",
			ErrConsentNotNeeded:     "Der Zugriff auf dieses System wird auf dem Server eingerichtet, oder jedes Konto verbindet sich über seinen eigenen Aktivierungslink.",
			ErrConsentUnavailable:   "Es wurde nichts geändert.",
		},
		errNext: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Melden Sie sich ab (oder verwenden Sie ein privates Browserfenster) und öffnen Sie den Link erneut.",
			ErrConsentNotAdmin:      "Öffnen Sie den Link erneut und melden Sie sich mit einem Administratorkonto an.",
			ErrConsentInternal:      "Versuchen Sie es in einigen Minuten erneut. Wenn es weiterhin fehlschlägt, wenden Sie sich an Ihren Administrator.",
			ErrConsentUnknown:       "Öffnen Sie den neuesten Link, den Sie erhalten haben, vollständig kopiert, oder bitten Sie Ihren Administrator um einen neuen.",
			ErrConsentExpired:       "Bitten Sie Ihren Administrator um einen neuen Link.",
			ErrConsentUsed:          "Sie müssen nichts weiter tun. Falls die Synchronisierung seitdem angehalten hat, bitten Sie Ihren Administrator um einen neuen Link.",
			ErrConsentDenied:        "Um den Kalender zu verbinden, öffnen Sie den Link erneut und stimmen Sie zu.",
			ErrConsentState:         "Öffnen Sie den Link erneut im selben Browser und schließen Sie die Anmeldung innerhalb weniger Minuten ab.",
			ErrConsentProvider:      "Versuchen Sie es in einigen Minuten erneut. Wenn es weiterhin fehlschlägt, wenden Sie sich an Ihren Administrator.",
			ErrConsentTokenExchange: "Versuchen Sie es in einigen Minuten erneut. Wenn es weiterhin fehlschlägt, wenden Sie sich an Ihren Administrator.",
			ErrConsentSetupClosed:   "Führen Sie zum Öffnen auf dem Server aus:",
			ErrConsentNotNeeded:     "Hier ist nichts zu tun.",
			ErrConsentUnavailable:   "Versuchen Sie es in einigen Minuten erneut. Wenn es weiterhin fehlschlägt, wenden Sie sich an Ihren Administrator.",
		},
		wrongText:   "Sie haben sich als %[1]s angemeldet, aber dieser Link gilt für %[2]s. Es wurde nichts geändert.",
		wrongNext:   "Melden Sie sich von %[1]s ab (oder verwenden Sie ein privates Browserfenster), öffnen Sie den Link erneut und melden Sie sich als %[2]s an.",
		notAdminWho: "%[1]s darf diesen Zugriff nicht gewähren. Es wurde nichts geändert.",
		retry:       "Link erneut öffnen",
		detail:      "Der Anmeldedienst meldete:",
		footer:      "Profil %[1]s",
	}

	consentDutch = &consentText{
		tag:    "nl",
		months: [12]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
		date:   "%[1]d %[2]s %[3]d om %[4]s (%[5]s)",

		headUser:      "Koppel uw agenda",
		headResource:  "Koppel de agenda van %[1]s",
		headAdmin:     "Geef toegang tot %[1]s (%[2]s)",
		headReconnect: "Meld u opnieuw aan om de agendasynchronisatie te hervatten",
		introUser:     "Uw SuperOffice-agenda wordt gesynchroniseerd met uw %[1]s-agenda %[2]s (profiel %[3]s).",
		introResource: "De SuperOffice-resource %[1]s wordt gesynchroniseerd met de %[2]s-agenda %[3]s (profiel %[4]s).",
		introAdmin:    "Een beheerder meldt zich één keer aan, zodat Synchronizer %[1]s kan bereiken voor alle gekoppelde gebruikers en resources.",
		reconnect:     "De vorige aanmelding werkt niet meer, meestal na een wachtwoordwijziging of omdat een beveiligingsbeleid haar beëindigde. Na opnieuw aanmelden gaat de synchronisatie verder; er gaat niets verloren.",
		signInAs:      "Meld u aan met het account %[1]s.",
		signInManager: "Meld u aan met een account dat de agenda %[1]s beheert (een %[2]s-beheerder).",
		signInAdmin:   "Meld u aan met een beheerdersaccount van %[1]s.",
		connected:     "De toegang is nu verleend door %[1]s; opnieuw aanmelden vervangt die.",
		button:        "Aanmelden bij %[1]s",
		expires:       "Deze link werkt één keer en verloopt op %[1]s.",
		privacy:       "Uw wachtwoord gaat alleen naar %[1]s; Synchronizer ziet het nooit.",

		doneHead:     "Klaar",
		doneUser:     "Uw %[1]s-agenda %[2]s is nu gekoppeld aan SuperOffice. De eerste synchronisatie begint meteen.",
		doneResource: "De agenda van %[1]s is nu via %[2]s gekoppeld aan SuperOffice. De eerste synchronisatie begint meteen.",
		doneAdmin:    "Synchronizer heeft nu toegang tot %[1]s, verleend door %[2]s.",
		doneClose:    "U kunt dit venster sluiten.",

		errHead: map[ConsentErrorKind]string{
			ErrConsentInternal:      "Er ging bij ons iets mis",
			ErrConsentUnknown:       "Deze link is niet geldig",
			ErrConsentExpired:       "Deze link is verlopen",
			ErrConsentUsed:          "Deze link is al gebruikt",
			ErrConsentDenied:        "Er is geen toegang verleend",
			ErrConsentWrongAccount:  "Aangemeld met een ander account",
			ErrConsentNotAdmin:      "Dit account kan de toegang niet verlenen",
			ErrConsentState:         "Deze aanmelding kon niet worden voltooid",
			ErrConsentProvider:      "De aanmeldservice meldde een probleem",
			ErrConsentTokenExchange: "De aanmelding kon niet worden bevestigd",
			ErrConsentSetupClosed:   "Deze installatielink is niet geopend",
			ErrConsentNotNeeded:     "Hier is geen aanmelding nodig",
			ErrConsentUnavailable:   "Synchronizer kan dit nu niet voltooien",
		},
		errText: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Het gebruikte account is niet het account waarvoor deze link is. Er is niets gewijzigd.",
			ErrConsentNotAdmin:      "Het gebruikte account mag deze toegang niet verlenen. Er is niets gewijzigd.",
			ErrConsentInternal:      "Er is niets gewijzigd.",
			ErrConsentUnknown:       "Hij is misschien onvolledig, of vervangen door een nieuwere link.",
			ErrConsentExpired:       "Activeringslinks werken een beperkte tijd, en deze is verlopen voordat iemand zich aanmeldde.",
			ErrConsentUsed:          "De agenda is ermee gekoppeld, en een link werkt maar één keer.",
			ErrConsentDenied:        "De aanmelding is afgebroken of de toegang geweigerd, dus er is niets gewijzigd.",
			ErrConsentState:         "Ze hoort niet bij een aanmelding die in deze browser is gestart: ze duurde te lang, is in een andere browser voltooid of was al voltooid. Er is niets gewijzigd.",
			ErrConsentProvider:      "Er is niets gewijzigd.",
			ErrConsentTokenExchange: "De aanmeldservice heeft de aanmelding niet aan Synchronizer bevestigd. Er is niets gewijzigd.",
			ErrConsentSetupClosed:   "Een beheerder opent een installatielink op de server; die werkt dan een beperkte tijd en één keer.",
			ErrConsentNotNeeded:     "De toegang tot dit systeem wordt op de server ingesteld, of elk account koppelt zich via een eigen activeringslink.",
			ErrConsentUnavailable:   "Er is niets gewijzigd.",
		},
		errNext: map[ConsentErrorKind]string{
			ErrConsentWrongAccount:  "Meld u af (of gebruik een privévenster) en open de link opnieuw.",
			ErrConsentNotAdmin:      "Open de link opnieuw en meld u aan met een beheerdersaccount.",
			ErrConsentInternal:      "Probeer het over een paar minuten opnieuw. Blijft het mislukken, laat het dan uw beheerder weten.",
			ErrConsentUnknown:       "Open de nieuwste link die u hebt ontvangen, volledig gekopieerd, of vraag uw beheerder om een nieuwe.",
			ErrConsentExpired:       "Vraag uw beheerder om een nieuwe link.",
			ErrConsentUsed:          "U hoeft niets meer te doen. Is de synchronisatie sindsdien gestopt, vraag uw beheerder dan om een nieuwe link.",
			ErrConsentDenied:        "Open de link opnieuw en ga akkoord om de agenda te koppelen.",
			ErrConsentState:         "Open de link opnieuw in dezelfde browser en voltooi de aanmelding binnen een paar minuten.",
			ErrConsentProvider:      "Probeer het over een paar minuten opnieuw. Blijft het mislukken, laat het dan uw beheerder weten.",
			ErrConsentTokenExchange: "Probeer het over een paar minuten opnieuw. Blijft het mislukken, laat het dan uw beheerder weten.",
			ErrConsentSetupClosed:   "Voer dit uit op de server om hem te openen:",
			ErrConsentNotNeeded:     "Hier hoeft niets te gebeuren.",
			ErrConsentUnavailable:   "Probeer het over een paar minuten opnieuw. Blijft het mislukken, laat het dan uw beheerder weten.",
		},
		wrongText:   "U hebt zich aangemeld als %[1]s, maar deze link is voor %[2]s. Er is niets gewijzigd.",
		wrongNext:   "Meld u af bij %[1]s (of gebruik een privévenster), open de link opnieuw en meld u aan als %[2]s.",
		notAdminWho: "%[1]s mag deze toegang niet verlenen. Er is niets gewijzigd.",
		retry:       "Open de link opnieuw",
		detail:      "De aanmeldservice meldde:",
		footer:      "profiel %[1]s",
	}
)
