//! Who may do what in a room (docs/protocol.md, "Refusals never reveal a Secret room"): the one place these rules live. Every command
//! gathers the facts ([`Standing::of`]: the principal's roles in the room, whether it is in
//! the category's scope) and asks [`Access`]; nothing else decides. The file service asks
//! the same questions when a token is used ([`crate::files::Transfers::authorize`]).
//!
//! The store helps in one place only, and decides nothing: a room search
//! (`Store::search_rooms` with `visible_to`) returns *candidates*, leaving out the Secret
//! rooms in which the principal holds no role. That is a necessary condition of
//! [`Access::can_see`] (a Secret room is seen only with a role), checked in SQL so that the
//! search limit is not spent on rooms the principal could never see; it never drops a room
//! `can_see` would show. `cmd:chansrch` then judges every candidate with `can_see`. A change
//! to the rules keeps that pre-filter a necessary condition, or changes it with them.

use parlance_store::Store;
use parlance_store::rooms::{Behavior, Privacy, Role, RoomInfo};

use crate::{ChatError, ChatService, Principal};

/// A principal's roles in a room and whether it is in the category's scope: the facts
/// [`Access`] judges.
pub(crate) struct Standing {
    pub(crate) roles: Vec<Role>,
    pub(crate) in_scope: bool,
}

impl Standing {
    /// What the principal holds in a room, read from the store.
    pub(crate) async fn of(
        store: &Store,
        info: &RoomInfo,
        principal_id: i64,
    ) -> Result<Standing, parlance_store::StoreError> {
        Ok(Standing {
            roles: store.roles_of(info.room.id, principal_id).await?,
            in_scope: store.in_scope(info.category.id, principal_id).await?,
        })
    }

    pub(crate) fn on<'a>(&'a self, room: &'a RoomInfo) -> Access<'a> {
        Access {
            room,
            roles: &self.roles,
            in_scope: self.in_scope,
        }
    }
}

/// May create rooms in a category: its creators while inside its scope (a creator denied
/// there would make rooms it could hold a role in but not be listed for), and administrators.
pub(crate) fn can_create_rooms(creator: bool, in_scope: bool, admin: bool) -> bool {
    (creator && in_scope) || admin
}

/// Why a role may not be given or taken: the original's rules (reference §3.3; the SDK's
/// errors in brackets). Every path that changes roles asks [`role_change`] or
/// [`creator_change`] first: the room-management application, the admin commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleRefusal {
    /// Only principals inside a category's scope hold roles in it (PrincipalsNotInScope).
    #[error("outside the category's scope")]
    NotInScope,
    /// A presenter must be a member of the room (PresenterNotInMemList).
    #[error("a presenter must be a member of the room")]
    PresenterNotMember,
    /// The member role of a presenter goes only after the presenter role, so that no
    /// presenter is left who is not a member.
    #[error("still a presenter of the room: take that role away first")]
    StillPresenter,
}

/// May `role` in a room be given (`on`) to, or taken from, a principal who holds `held`
/// there and is (`in_scope`) or is not inside the category's scope? Taking a role is always
/// allowed but for a presenter's member role; giving one needs the scope, and presenting
/// needs membership.
pub fn role_change(role: Role, on: bool, held: &[Role], in_scope: bool) -> Result<(), RoleRefusal> {
    // Giving a role already held, or taking one not held, changes nothing.
    if on == held.contains(&role) {
        return Ok(());
    }
    match (role, on) {
        (_, true) if !in_scope => Err(RoleRefusal::NotInScope),
        (Role::Presenter, true) if !held.contains(&Role::Member) => {
            Err(RoleRefusal::PresenterNotMember)
        }
        (Role::Member, false) if held.contains(&Role::Presenter) => {
            Err(RoleRefusal::StillPresenter)
        }
        _ => Ok(()),
    }
}

/// May the creator role of a category be given (`on`) or taken? Given only inside the
/// category's scope, as room roles: a creator outside it could not create rooms anyway
/// ([`can_create_rooms`]).
pub fn creator_change(on: bool, in_scope: bool) -> Result<(), RoleRefusal> {
    if on && !in_scope {
        return Err(RoleRefusal::NotInScope);
    }
    Ok(())
}

impl ChatService {
    /// What the principal holds in a room, for [`Standing::on`] to judge.
    pub(crate) async fn standing(
        &self,
        info: &RoomInfo,
        principal: &Principal,
    ) -> Result<Standing, ChatError> {
        Ok(Standing::of(&self.store, info, principal.id).await?)
    }

    /// The room a `ma-chan:` URI names (in our domain, existing) and the principal's
    /// standing there, in one read: what [`ChatService::room_by_uri`] and
    /// [`ChatService::standing`] give, for the commands every member sends.
    pub(crate) async fn room_and_standing(
        &self,
        uri: &str,
        principal: &Principal,
    ) -> Result<Option<(RoomInfo, Standing)>, ChatError> {
        let Some(guid) = self.room_guid(uri) else {
            return Ok(None);
        };
        let found = self.store.room_standing(guid, principal.id).await?;
        Ok(found.map(|s| {
            let standing = Standing {
                roles: s.roles,
                in_scope: s.in_scope,
            };
            (s.info, standing)
        }))
    }
}

/// What the server knows about one principal and one room.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub room: &'a RoomInfo,
    pub roles: &'a [Role],
    /// Inside the room's category scope.
    pub in_scope: bool,
}

impl Access<'_> {
    fn has_role(&self) -> bool {
        !self.roles.is_empty()
    }

    pub fn is_manager(&self) -> bool {
        self.roles.contains(&Role::Manager)
    }

    /// Listed in searches. Secret rooms exist only for those who hold a role in them;
    /// disabled rooms for nobody.
    pub fn can_see(&self) -> bool {
        if self.room.room.disabled {
            return false;
        }
        match self.room.room.privacy {
            Privacy::Open | Privacy::Closed => self.in_scope || self.has_role(),
            Privacy::Secret => self.has_role(),
        }
    }

    pub fn can_join(&self) -> bool {
        if self.room.room.disabled {
            return false;
        }
        match self.room.room.privacy {
            Privacy::Open => self.in_scope || self.has_role(),
            Privacy::Closed | Privacy::Secret => self.has_role(),
        }
    }

    pub fn can_read_history(&self) -> bool {
        self.can_join()
    }

    pub fn can_post(&self) -> bool {
        self.can_join()
            && match self.room.room.behavior {
                Behavior::Normal => true,
                Behavior::Auditorium => self.roles.contains(&Role::Presenter),
            }
    }

    /// May post files (`cmd:getfutok` and every use of its token): may post, and the room's
    /// effective `filepost` is on.
    pub fn can_post_files(&self) -> bool {
        self.can_post() && self.room.file_post()
    }

    /// May open the room's page in the room-management application: whoever can see the
    /// room, its managers also while it is disabled (to enable it again), and
    /// administrators (`admin`) always. Everyone else is told the room does not exist.
    pub fn can_view_settings(&self, admin: bool) -> bool {
        admin || self.is_manager() || self.can_see()
    }

    /// May change the room's settings and people: its managers and administrators.
    pub fn can_manage(&self, admin: bool) -> bool {
        admin || self.is_manager()
    }

    /// The answer when an action is refused: a room the principal may not see is reported
    /// as missing, so that refusals never reveal a Secret room.
    pub fn refusal(&self) -> xccos::ResponseCode {
        if self.room.room.disabled && self.has_role() {
            xccos::ResponseCode::NodeDisabled
        } else if self.can_see() {
            xccos::ResponseCode::Permission
        } else {
            xccos::ResponseCode::NoSuchNode
        }
    }
}

#[cfg(test)]
mod tests {
    use parlance_store::rooms::{Category, Room};

    use super::*;

    fn room(privacy: Privacy, behavior: Behavior, disabled: bool) -> RoomInfo {
        RoomInfo {
            room: Room {
                id: 1,
                guid: "g".into(),
                category_id: 2,
                name: "r".into(),
                description: String::new(),
                topic: String::new(),
                privacy,
                behavior,
                invitations: true,
                disabled,
                file_post: None,
            },
            category: Category {
                id: 2,
                guid: "c".into(),
                parent_id: Some(1),
                name: "c".into(),
                description: String::new(),
                file_post: true,
                invitations: true,
                logged: true,
            },
        }
    }

    /// (privacy, roles, in scope) → (see, join, post in normal, post in auditorium).
    #[test]
    fn permission_matrix() {
        use Privacy::*;
        use Role::*;
        let cases: &[(Privacy, &[Role], bool, [bool; 4])] = &[
            (Open, &[], true, [true, true, true, false]),
            (Open, &[], false, [false, false, false, false]),
            (Open, &[Member], false, [true, true, true, false]),
            (Open, &[Member, Presenter], true, [true, true, true, true]),
            (Closed, &[], true, [true, false, false, false]),
            (Closed, &[Member], true, [true, true, true, false]),
            (Closed, &[Manager], false, [true, true, true, false]),
            (Secret, &[], true, [false, false, false, false]),
            (Secret, &[Member], true, [true, true, true, false]),
            (Secret, &[Member, Presenter], true, [true, true, true, true]),
        ];
        for (privacy, roles, in_scope, [see, join, post, post_aud]) in cases {
            let normal = room(*privacy, Behavior::Normal, false);
            let aud = room(*privacy, Behavior::Auditorium, false);
            let a = Access {
                room: &normal,
                roles,
                in_scope: *in_scope,
            };
            let b = Access {
                room: &aud,
                roles,
                in_scope: *in_scope,
            };
            let got = [a.can_see(), a.can_join(), a.can_post(), b.can_post()];
            assert_eq!(
                got,
                [*see, *join, *post, *post_aud],
                "{privacy:?} {roles:?} scope={in_scope}"
            );
            assert_eq!(a.can_read_history(), a.can_join());
            let disabled = room(*privacy, Behavior::Normal, true);
            let d = Access {
                room: &disabled,
                roles,
                in_scope: *in_scope,
            };
            assert!(!d.can_see() && !d.can_join() && !d.can_post() && !d.can_read_history());
        }
    }

    /// (privacy, behavior, roles, filepost, disabled) → the refusal of a file post, `None`
    /// when allowed. In scope throughout: scope is judged as for any post.
    #[test]
    fn file_posting_matrix() {
        use Behavior::*;
        use Privacy::*;
        use Role::*;
        use xccos::ResponseCode::*;
        type Case = (
            Privacy,
            Behavior,
            &'static [Role],
            bool,
            bool,
            Option<xccos::ResponseCode>,
        );
        let cases: &[Case] = &[
            (Open, Normal, &[], true, false, None),
            (Open, Normal, &[], false, false, Some(Permission)),
            (Closed, Normal, &[], true, false, Some(Permission)),
            (Closed, Normal, &[Member], true, false, None),
            (Closed, Normal, &[Member], false, false, Some(Permission)),
            (Secret, Normal, &[], true, false, Some(NoSuchNode)),
            (Secret, Normal, &[], false, false, Some(NoSuchNode)),
            (Secret, Normal, &[Member], true, false, None),
            (Secret, Normal, &[Member], false, false, Some(Permission)),
            (Open, Auditorium, &[Member], true, false, Some(Permission)),
            (Open, Auditorium, &[Presenter], true, false, None),
            (
                Open,
                Auditorium,
                &[Presenter],
                false,
                false,
                Some(Permission),
            ),
            (Open, Normal, &[Member], true, true, Some(NodeDisabled)),
            (Secret, Normal, &[], true, true, Some(NoSuchNode)),
        ];
        for (privacy, behavior, roles, file_post, disabled, refused) in cases {
            let mut info = room(*privacy, *behavior, *disabled);
            info.category.file_post = *file_post;
            let access = Access {
                room: &info,
                roles,
                in_scope: true,
            };
            let got = (!access.can_post_files()).then(|| access.refusal());
            assert_eq!(
                got, *refused,
                "{privacy:?} {behavior:?} {roles:?} filepost={file_post} disabled={disabled}"
            );
            assert!(!access.can_post_files() || access.can_post());
        }
    }

    /// (privacy, disabled, roles, admin) → (view the page, manage).
    #[test]
    fn management_matrix() {
        use Privacy::*;
        use Role::*;
        type Case = (Privacy, bool, &'static [Role], bool, [bool; 2]);
        let cases: &[Case] = &[
            (Open, false, &[], false, [true, false]),
            (Closed, false, &[], false, [true, false]),
            (Secret, false, &[], false, [false, false]),
            (Secret, false, &[Member], false, [true, false]),
            (Secret, false, &[Manager], false, [true, true]),
            (Secret, false, &[], true, [true, true]),
            (Open, true, &[Member], false, [false, false]),
            (Open, true, &[Manager], false, [true, true]),
            (Secret, true, &[], true, [true, true]),
        ];
        for (privacy, disabled, roles, admin, [view, manage]) in cases {
            let info = room(*privacy, Behavior::Normal, *disabled);
            let access = Access {
                room: &info,
                roles,
                in_scope: true,
            };
            assert_eq!(
                [access.can_view_settings(*admin), access.can_manage(*admin)],
                [*view, *manage],
                "{privacy:?} disabled={disabled} {roles:?} admin={admin}"
            );
        }
        assert!(can_create_rooms(true, true, false) && can_create_rooms(false, false, true));
        assert!(!can_create_rooms(false, true, false) && !can_create_rooms(true, false, false));
    }

    /// (role, on, held, in scope) → the refusal, `None` when allowed.
    #[test]
    fn role_change_matrix() {
        use Role::*;
        use RoleRefusal::*;
        type Case = (Role, bool, &'static [Role], bool, Option<RoleRefusal>);
        let cases: &[Case] = &[
            (Member, true, &[], true, None),
            (Member, true, &[], false, Some(NotInScope)),
            (Manager, true, &[], false, Some(NotInScope)),
            (Presenter, true, &[], true, Some(PresenterNotMember)),
            (Presenter, true, &[Manager], true, Some(PresenterNotMember)),
            (Presenter, true, &[Member], true, None),
            (Presenter, true, &[Member], false, Some(NotInScope)),
            // Holding it already, or not holding it, changes nothing: no refusal.
            (Member, true, &[Member], false, None),
            (Member, false, &[], false, None),
            (Member, false, &[Member], false, None),
            (
                Member,
                false,
                &[Member, Presenter],
                true,
                Some(StillPresenter),
            ),
            (Presenter, false, &[Member, Presenter], false, None),
            (Manager, false, &[Manager], false, None),
        ];
        for (role, on, held, in_scope, refused) in cases {
            assert_eq!(
                role_change(*role, *on, held, *in_scope).err(),
                *refused,
                "{role:?} on={on} {held:?} scope={in_scope}"
            );
        }
        assert_eq!(creator_change(true, false), Err(NotInScope));
        assert_eq!(creator_change(true, true), Ok(()));
        assert_eq!(creator_change(false, false), Ok(()));
    }

    #[test]
    fn refusals_do_not_reveal_secret_rooms() {
        let secret = room(Privacy::Secret, Behavior::Normal, false);
        let outsider = Access {
            room: &secret,
            roles: &[],
            in_scope: true,
        };
        assert_eq!(outsider.refusal(), xccos::ResponseCode::NoSuchNode);
        let closed = room(Privacy::Closed, Behavior::Normal, false);
        let outsider = Access {
            room: &closed,
            roles: &[],
            in_scope: true,
        };
        assert_eq!(outsider.refusal(), xccos::ResponseCode::Permission);
        let disabled = room(Privacy::Open, Behavior::Normal, true);
        assert_eq!(
            Access {
                room: &disabled,
                roles: &[Role::Member],
                in_scope: true
            }
            .refusal(),
            xccos::ResponseCode::NodeDisabled
        );
        assert_eq!(
            Access {
                room: &disabled,
                roles: &[],
                in_scope: true
            }
            .refusal(),
            xccos::ResponseCode::NoSuchNode
        );
    }
}
