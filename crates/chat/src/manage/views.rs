//! What the pages are built from: a room as the actor may see it, found by the GUID of a URL.

use parlance_store::audit::AuditEntry;
use parlance_store::rooms::{Category, Role, RoomInfo};

use super::{Actor, AuditView, CategoryView, ManageError, PersonView, RoomView, parse_guid};
use crate::ChatService;
use crate::permissions::Standing;

/// Audit records a room's or a category's page shows.
pub(super) const PAGE_CHANGES: u32 = 20;

impl ChatService {
    /// The room a URL's GUID names, with the actor's standing in it, if the actor may see
    /// its page. Unknown, malformed and invisible are one answer: [`ManageError::NotFound`].
    pub(super) async fn room_for(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(RoomInfo, Standing), ManageError> {
        let Some(guid) = parse_guid(guid) else {
            return Err(ManageError::NotFound);
        };
        let Some(info) = self.store.room_by_guid(&guid).await? else {
            return Err(ManageError::NotFound);
        };
        let standing = self.standing(&info, &actor.principal).await?;
        if !standing.on(&info).can_view_settings(actor.admin) {
            return Err(ManageError::NotFound);
        }
        Ok((info, standing))
    }

    /// A room the actor has just changed, as it is now. Built whatever the actor may see
    /// now: a manager who gave up the role in a Secret room still learns how the change
    /// ended (and `can_edit` says it is no longer theirs to change).
    pub(super) async fn changed_room_view(
        &self,
        actor: &Actor,
        room_id: i64,
    ) -> Result<RoomView, ManageError> {
        let info = self
            .store
            .room_by_id(room_id)
            .await?
            .ok_or(ManageError::NotFound)?;
        let standing = self.standing(&info, &actor.principal).await?;
        self.room_view(actor, &info, &standing).await
    }

    /// A room as its page shows it to the actor.
    pub(super) async fn room_view(
        &self,
        actor: &Actor,
        info: &RoomInfo,
        standing: &Standing,
    ) -> Result<RoomView, ManageError> {
        let can_edit = standing.on(info).can_manage(actor.admin);
        let (mut members, mut managers, mut presenters) = (Vec::new(), Vec::new(), Vec::new());
        for holder in self.store.role_holders(info.room.id).await? {
            let person = person_view(holder.uri, holder.display_name);
            match holder.role {
                Role::Member => members.push(person),
                Role::Manager => managers.push(person),
                Role::Presenter => presenters.push(person),
            }
        }
        let changes = if can_edit {
            self.store
                .audit_for_room(info.room.id, PAGE_CHANGES)
                .await?
                .into_iter()
                .map(audit_view)
                .collect()
        } else {
            Vec::new()
        };
        let room = &info.room;
        Ok(RoomView {
            guid: room.guid.clone(),
            uri: self.room_uri(info),
            category: category_view(&info.category),
            name: room.name.clone(),
            description: room.description.clone(),
            topic: room.topic.clone(),
            privacy: room.privacy,
            behavior: room.behavior,
            invitations: room.invitations,
            file_post: room.file_post,
            file_post_effective: info.file_post(),
            disabled: room.disabled,
            members,
            managers,
            presenters,
            can_edit,
            changes,
        })
    }
}

pub(super) fn audit_view(entry: AuditEntry) -> AuditView {
    AuditView {
        at: entry.at.div_euclid(1_000_000_000),
        actor: entry.actor_uri,
        action: entry.action,
        detail: entry.detail,
    }
}

pub(super) fn category_view(category: &Category) -> CategoryView {
    CategoryView {
        guid: category.guid.clone(),
        name: category.name.clone(),
        description: category.description.clone(),
        file_post: category.file_post,
        invitations: category.invitations,
    }
}

pub(super) fn person_view(uri: String, display_name: String) -> PersonView {
    let display = if display_name.trim().is_empty() {
        uri.clone()
    } else {
        display_name
    };
    PersonView { uri, display }
}
