//! A room's people (members, managers, presenters) and the search that finds them.

use parlance_store::rooms::{Role, RoomInfo};

use super::views::person_view;
use super::{Actor, Field, ManageError, PersonView, Problem, RoomView};
use crate::ChatService;
use crate::permissions::role_change;

/// The most addresses one change of people may name: a form adds a few at a time, and each
/// address costs lookups.
pub const MAX_PEOPLE_PER_CHANGE: usize = 100;
/// The most results one people search returns.
pub const MAX_SEARCH_RESULTS: u32 = 50;
/// The longest people search text, in characters.
pub const MAX_QUERY_CHARS: usize = 256;

impl ChatService {
    /// Adds and removes people in one role of a room (managers and administrators).
    /// Addresses are `sip:` URIs (or `user@domain`); each must be an active account, and
    /// the change one the original allows ([`role_change`]: an added one inside the
    /// category's scope, a presenter a member). A room keeps at least one manager.
    /// Applies at once: someone who may no longer be in the room leaves it.
    pub async fn set_people(
        &self,
        actor: &Actor,
        guid: &str,
        role: Role,
        add: &[String],
        remove: &[String],
    ) -> Result<RoomView, ManageError> {
        let (info, standing) = self.room_for(actor, guid).await?;
        if !standing.on(&info).can_manage(actor.admin) {
            return Err(ManageError::Forbidden);
        }
        check_people_count(add.len() + remove.len())?;
        let holders: Vec<i64> = self
            .store
            .role_holders(info.room.id)
            .await?
            .into_iter()
            .filter(|h| h.role == role)
            .map(|h| h.principal_id)
            .collect();
        let mut added: Vec<(i64, String)> = Vec::new();
        for address in add {
            let (id, uri) = self.person(address).await?;
            self.may_change_role(&info, role, true, id, address).await?;
            if !holders.contains(&id) && !added.iter().any(|(a, _)| *a == id) {
                added.push((id, uri));
            }
        }
        let mut removed: Vec<(i64, String)> = Vec::new();
        for address in remove {
            let (id, uri) = self.person(address).await?;
            let added_too = added.iter().any(|(a, _)| *a == id);
            if holders.contains(&id) && !added_too && !removed.iter().any(|(r, _)| *r == id) {
                self.may_change_role(&info, role, false, id, address)
                    .await?;
                removed.push((id, uri));
            }
        }
        if role == Role::Manager
            && holders.len() + added.len() == removed.len()
            && !removed.is_empty()
        {
            return Err(ManageError::invalid(Field::People, Problem::NotAllowedHere));
        }
        if added.is_empty() && removed.is_empty() {
            return self.room_view(actor, &info, &standing).await;
        }
        let detail = people_detail(role, &added, &removed);
        let audit = self.audit(actor, "room.people", &detail);
        let ids = |people: &[(i64, String)]| people.iter().map(|(id, _)| *id).collect::<Vec<_>>();
        self.store
            .change_roles(info.room.id, role, &ids(&added), &ids(&removed), &audit)
            .await?;
        tracing::info!(actor = %actor.principal.uri, room = %info.room.guid, changes = %detail, "room people changed");
        self.roles_changed(info.room.id, role == Role::Manager, &added, &removed)
            .await?;
        self.changed_room_view(actor, info.room.id).await
    }

    /// Refuses giving or taking a role the original would refuse ([`role_change`]): someone
    /// outside the category's scope, a presenter who is not a member, a presenter's member
    /// role.
    async fn may_change_role(
        &self,
        info: &RoomInfo,
        role: Role,
        on: bool,
        principal_id: i64,
        address: &str,
    ) -> Result<(), ManageError> {
        let held = self.store.roles_of(info.room.id, principal_id).await?;
        let in_scope = self.store.in_scope(info.category.id, principal_id).await?;
        role_change(role, on, &held, in_scope).map_err(|refusal| {
            tracing::debug!(%address, %refusal, "role change refused");
            ManageError::invalid(Field::Person(address.to_owned()), Problem::NotAllowedHere)
        })
    }

    /// Active accounts whose address or display name contains `query`, for the people
    /// pickers: every character literal, at most `limit` (and never more than
    /// [`MAX_SEARCH_RESULTS`]).
    pub async fn search_people(
        &self,
        actor: &Actor,
        query: &str,
        limit: u32,
    ) -> Result<Vec<PersonView>, ManageError> {
        let query = query.trim();
        if query.chars().take(MAX_QUERY_CHARS + 1).count() > MAX_QUERY_CHARS {
            return Err(ManageError::invalid(
                Field::Query,
                Problem::TooLong {
                    max: MAX_QUERY_CHARS,
                },
            ));
        }
        let found = self
            .store
            .search_users(query, limit.min(MAX_SEARCH_RESULTS))
            .await?;
        tracing::debug!(actor = %actor.principal.uri, results = found.len(), "people search");
        Ok(found
            .into_iter()
            .map(|u| person_view(u.uri, u.display_name))
            .collect())
    }

    /// The active account an address names, as (principal id, normalised address).
    pub(super) async fn person(&self, address: &str) -> Result<(i64, String), ManageError> {
        let unknown =
            || ManageError::invalid(Field::Person(address.to_owned()), Problem::UnknownPerson);
        let user = match self.store.user(address).await {
            Ok(user) => user,
            Err(parlance_store::StoreError::Invalid { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let user = user.filter(|u| !u.disabled).ok_or_else(unknown)?;
        Ok((user.id, user.uri))
    }
}

/// Refuses a change naming more than [`MAX_PEOPLE_PER_CHANGE`] addresses before any is
/// looked up.
pub(super) fn check_people_count(count: usize) -> Result<(), ManageError> {
    if count > MAX_PEOPLE_PER_CHANGE {
        return Err(ManageError::invalid(
            Field::People,
            Problem::TooLong {
                max: MAX_PEOPLE_PER_CHANGE,
            },
        ));
    }
    Ok(())
}

/// `member: +sip:a@x, -sip:b@x`.
fn people_detail(role: Role, added: &[(i64, String)], removed: &[(i64, String)]) -> String {
    let changes: Vec<String> = added
        .iter()
        .map(|(_, uri)| format!("+{uri}"))
        .chain(removed.iter().map(|(_, uri)| format!("-{uri}")))
        .collect();
    format!("{role}: {}", changes.join(", "))
}
