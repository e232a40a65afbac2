# Parlance room management (MS-PCWP web application), US English.
# Every message the pages show; de-DE/manage.ftl has the same ids.

app-title = Parlance room management
skip-to-content = Skip to the content
signed-in-as = Signed in as { $value }
sign-out = Sign out

signin-title = Sign in
signin-intro = Sign in with your Parlance account to create and manage chat rooms.
signin-account = Account (for example alice@example.com)
signin-password = Password
signin-submit = Sign in
signin-failed = The account or the password is wrong.
signin-throttled = Too many failed sign-ins. Try again in { $value } seconds.
signin-busy = Too many people are signed in right now. Try again later.
session-expired = Your session has ended. Please sign in again.
ticket-invalid = This sign-in link has expired or was already used. Please sign in with your password.
csrf-failed = This form has expired or did not come from this page. Reload the page and try again.
bad-request = The request could not be read.
server-error = Something went wrong on the server. Please try again later.

not-found-title = Room not available
not-found = There is no such room, or you may not see it.
forbidden = You are not allowed to do this.
back-to-start = Back to the start page

create-title = Create a room
create-none = You may not create rooms in any category. Ask an administrator to make you a creator.
create-submit = Create room
created = The room was created.
saved = Your changes were saved.
managed-title = Rooms you manage
managed-none = You manage no rooms yet.
members-count = { $count ->
    [one] { $value } member
   *[other] { $value } members
}

field-category = Category
field-name = Name
field-description = Description
field-topic = Topic
field-privacy = Privacy
privacy-open = Open: anyone can find and read it
privacy-closed = Closed: anyone can find it, only members can read it
privacy-secret = Secret: only members can find and read it
field-behavior = Type
behavior-normal = Normal: every member can post
behavior-auditorium = Auditorium: only presenters can post
field-invitations = Invite new members
field-file-post = File posting
file-post-inherit = As the category says ({ $value })
file-post-inherit-plain = As the category says
file-post-on = Allowed
file-post-off = Not allowed
field-disabled = Disabled: nobody can enter the room
field-people = People
field-address = the address { $value }
yes = Yes
no = No

room-title = Room { $value }
room-address = Room address
room-read-only = You can see this room's settings; only its managers can change them.
edit-title = Settings
edit-submit = Save changes

people-title = People
role-members = Members
role-managers = Managers
role-presenters = Presenters
people-none = Nobody
people-add = Add people (addresses, separated by commas)
people-remove = Remove { $value }
people-submit = Update
people-search = Find people
people-search-submit = Search
people-search-none = Nobody matches.
people-search-hint = Type part of a name or address.

changes-title = Recent changes
changes-when = When
changes-who = Who
changes-what = What

problem-empty = { $value }: this must not be empty.
problem-too-long = { $value }: this is too long (at most { $max } characters).
problem-duplicate = { $value }: a room with this name already exists in this category.
problem-unknown-person = There is no account for { $value }.
problem-not-allowed-here = { $value }: the category does not allow this.
problem-control = { $value }: this must not contain control characters.

admin-link = Administration
admin-title = Categories
admin-none = There are no categories yet.
category-title = Category { $value }
category-file-post = Rooms may allow file posting
category-logged = Keep the chat history of its rooms
scope-intro = Creators may create rooms here. With nobody allowed, everyone not denied may use the category's rooms; with some allowed, only they may.
list-creators = Creators
list-allowed = Allowed
list-denied = Denied
