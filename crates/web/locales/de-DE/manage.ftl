# Parlance-Raumverwaltung (MS-PCWP-Webanwendung), Deutsch.
# Dieselben Kennungen wie en-US/manage.ftl.

app-title = Parlance-Raumverwaltung
skip-to-content = Zum Inhalt springen
signed-in-as = Angemeldet als { $value }
sign-out = Abmelden

signin-title = Anmelden
signin-intro = Melden Sie sich mit Ihrem Parlance-Konto an, um Chatrooms zu erstellen und zu verwalten.
signin-account = Konto (zum Beispiel alice@example.com)
signin-password = Kennwort
signin-submit = Anmelden
signin-failed = Konto oder Kennwort ist falsch.
signin-throttled = Zu viele fehlgeschlagene Anmeldungen. Versuchen Sie es in { $value } Sekunden erneut.
signin-busy = Gerade sind zu viele Personen angemeldet. Versuchen Sie es später erneut.
session-expired = Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.
ticket-invalid = Dieser Anmeldelink ist abgelaufen oder wurde schon benutzt. Bitte melden Sie sich mit Ihrem Kennwort an.
csrf-failed = Dieses Formular ist abgelaufen oder stammt nicht von dieser Seite. Laden Sie die Seite neu und versuchen Sie es erneut.
bad-request = Die Anfrage konnte nicht gelesen werden.
server-error = Auf dem Server ist ein Fehler aufgetreten. Bitte versuchen Sie es später erneut.

not-found-title = Raum nicht verfügbar
not-found = Diesen Raum gibt es nicht, oder Sie dürfen ihn nicht sehen.
forbidden = Das dürfen Sie nicht.
back-to-start = Zurück zur Startseite

create-title = Raum erstellen
create-none = Sie dürfen in keiner Kategorie Räume erstellen. Bitten Sie einen Administrator, Sie als Ersteller einzutragen.
create-submit = Raum erstellen
created = Der Raum wurde erstellt.
saved = Ihre Änderungen wurden gespeichert.
managed-title = Ihre verwalteten Räume
managed-none = Sie verwalten noch keine Räume.
members-count = { $count ->
    [one] { $value } Mitglied
   *[other] { $value } Mitglieder
}

field-category = Kategorie
field-name = Name
field-description = Beschreibung
field-topic = Thema
field-privacy = Sichtbarkeit
privacy-open = Offen: jeder kann ihn finden und lesen
privacy-closed = Geschlossen: jeder kann ihn finden, nur Mitglieder können ihn lesen
privacy-secret = Geheim: nur Mitglieder können ihn finden und lesen
field-behavior = Art
behavior-normal = Normal: jedes Mitglied kann schreiben
behavior-auditorium = Auditorium: nur Referenten können schreiben
field-invitations = Neue Mitglieder einladen
field-file-post = Dateien veröffentlichen
file-post-inherit = Wie in der Kategorie ({ $value })
file-post-inherit-plain = Wie in der Kategorie
file-post-on = Erlaubt
file-post-off = Nicht erlaubt
field-disabled = Deaktiviert: niemand kann den Raum betreten
field-people = Personen
field-address = die Adresse { $value }
yes = Ja
no = Nein

room-title = Raum { $value }
room-address = Raumadresse
room-read-only = Sie können die Einstellungen dieses Raums sehen; nur seine Manager können sie ändern.
edit-title = Einstellungen
edit-submit = Änderungen speichern

people-title = Personen
role-members = Mitglieder
role-managers = Manager
role-presenters = Referenten
people-none = Niemand
people-add = Personen hinzufügen (Adressen, durch Kommas getrennt)
people-remove = { $value } entfernen
people-submit = Aktualisieren
people-search = Personen suchen
people-search-submit = Suchen
people-search-none = Niemand gefunden.
people-search-hint = Geben Sie einen Teil eines Namens oder einer Adresse ein.

changes-title = Letzte Änderungen
changes-when = Wann
changes-who = Wer
changes-what = Was

problem-empty = { $value }: Das darf nicht leer sein.
problem-too-long = { $value }: Das ist zu lang (höchstens { $max } Zeichen).
problem-duplicate = { $value }: In dieser Kategorie gibt es schon einen Raum mit diesem Namen.
problem-unknown-person = Für { $value } gibt es kein Konto.
problem-not-allowed-here = { $value }: Die Kategorie erlaubt das nicht.
problem-control = { $value }: Das darf keine Steuerzeichen enthalten.

admin-link = Verwaltung
admin-title = Kategorien
admin-none = Es gibt noch keine Kategorien.
category-title = Kategorie { $value }
category-file-post = Räume dürfen Dateien erlauben
category-logged = Chatverlauf der Räume aufbewahren
scope-intro = Ersteller dürfen hier Räume erstellen. Ist niemand zugelassen, darf jeder, der nicht ausgeschlossen ist, die Räume der Kategorie nutzen; sonst nur die Zugelassenen.
list-creators = Ersteller
list-allowed = Zugelassen
list-denied = Ausgeschlossen
