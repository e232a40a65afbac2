//! Room pages: the create form's defaults, a room's page, creating and editing a room, and
//! the list of rooms an actor manages.

use parlance_store::StoreError;
use parlance_store::audit::Audit;
use parlance_store::rooms::{
    Category, NewRoom, Privacy, Role, Room, RoomInfo, RoomUpdate, TextKind,
};

use super::{
    Actor, Behavior, Field, ManageError, Problem, RoomForm, RoomView, check_text, parse_guid,
};
use crate::ChatService;
use crate::permissions::can_create_rooms;

/// The most rooms the landing page lists: an administrator of a large server sees the
/// first ones by name and finds the others by their URL.
pub const MAX_LISTED_ROOMS: usize = 200;

impl ChatService {
    /// The room form's defaults in a category where the actor may create rooms.
    pub async fn room_defaults(
        &self,
        actor: &Actor,
        category_guid: &str,
    ) -> Result<RoomForm, ManageError> {
        let category = self.creatable_category(actor, category_guid).await?;
        Ok(RoomForm {
            category: category.guid,
            name: String::new(),
            description: String::new(),
            topic: String::new(),
            // The original's default: visible in the category, entered by members.
            privacy: Privacy::Closed,
            behavior: Behavior::Normal,
            invitations: category.invitations,
            file_post: None,
            disabled: false,
        })
    }

    /// A room's page. `guid` as it came in the URL: any case, with or without braces;
    /// anything else, and any room the actor may not see, is [`ManageError::NotFound`].
    pub async fn room_page(&self, actor: &Actor, guid: &str) -> Result<RoomView, ManageError> {
        let (info, standing) = self.room_for(actor, guid).await?;
        self.room_view(actor, &info, &standing).await
    }

    /// Creates a room; the actor becomes its first member and manager.
    pub async fn create_room(
        &self,
        actor: &Actor,
        form: &RoomForm,
    ) -> Result<RoomView, ManageError> {
        let category = self.creatable_category(actor, &form.category).await?;
        check_form(form, &category, None)?;
        let new = NewRoom {
            category_id: category.id,
            name: &form.name,
            description: &form.description,
            topic: &form.topic,
            privacy: form.privacy,
            behavior: form.behavior,
            invitations: form.invitations,
        };
        let detail = format!(
            "category: {:?}; name: {:?}; privacy: {}; type: {}; invitations: {}; file posting: {}",
            category.name,
            form.name,
            form.privacy,
            form.behavior,
            form.invitations,
            file_post_text(form.file_post)
        );
        let audit = self.audit(actor, "room.create", &detail);
        let room = self
            .store
            .create_room(&new, form.file_post, &audit)
            .await
            .map_err(name_taken)?;
        tracing::info!(actor = %actor.principal.uri, room = %room.guid, "room created");
        self.changed_room_view(actor, room.id).await
    }

    /// Changes a room's settings (managers and administrators); the sessions in the room
    /// hear of it at once, and those who may no longer be there leave.
    pub async fn edit_room(
        &self,
        actor: &Actor,
        guid: &str,
        form: &RoomForm,
    ) -> Result<RoomView, ManageError> {
        let (info, standing) = self.room_for(actor, guid).await?;
        if !standing.on(&info).can_manage(actor.admin) {
            return Err(ManageError::Forbidden);
        }
        check_form(form, &info.category, Some(&info.room))?;
        let (update, detail) = changes(&info, form);
        if detail.is_empty() {
            return self.room_view(actor, &info, &standing).await;
        }
        let detail = detail.join("; ");
        let audit = self.audit(actor, "room.edit", &detail);
        self.store
            .edit_room(info.room.id, &update, &audit)
            .await
            .map_err(name_taken)?;
        tracing::info!(actor = %actor.principal.uri, room = %info.room.guid, changes = %detail, "room edited");
        self.room_changed(info.room.id, update.changes_access())
            .await?;
        self.changed_room_view(actor, info.room.id).await
    }

    /// The rooms the actor manages (every room, for administrators), by name, at most
    /// [`MAX_LISTED_ROOMS`].
    pub async fn managed_rooms(&self, actor: &Actor) -> Result<Vec<RoomView>, ManageError> {
        let rooms: Vec<RoomInfo> = if actor.admin {
            // Only the first rooms are read: a large server's list stays a page.
            let limit = u32::try_from(MAX_LISTED_ROOMS).unwrap_or(u32::MAX);
            self.store.search_rooms(None, false, None, limit).await?
        } else {
            self.store
                .rooms_with_role(actor.principal.id, Role::Manager)
                .await?
        };
        let mut views = Vec::new();
        for info in rooms.into_iter().take(MAX_LISTED_ROOMS) {
            let standing = self.standing(&info, &actor.principal).await?;
            views.push(self.room_view(actor, &info, &standing).await?);
        }
        Ok(views)
    }

    /// A category, by the GUID of a form, in which the actor may create rooms: unknown and
    /// malformed are [`ManageError::NotFound`], another's category
    /// [`ManageError::Forbidden`].
    pub(super) async fn creatable_category(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<Category, ManageError> {
        let category = self.category_by_guid(guid).await?;
        if category.parent_id.is_none() {
            // Rooms live below the root, never in it.
            return Err(ManageError::NotFound);
        }
        let creator = self
            .store
            .creator_categories(actor.principal.id)
            .await?
            .iter()
            .any(|c| c.id == category.id);
        let in_scope = self.store.in_scope(category.id, actor.principal.id).await?;
        if !can_create_rooms(creator, in_scope, actor.admin) {
            return Err(ManageError::Forbidden);
        }
        Ok(category)
    }

    /// A category by the GUID of a URL or form; [`ManageError::NotFound`] otherwise.
    pub(super) async fn category_by_guid(&self, guid: &str) -> Result<Category, ManageError> {
        let guid = parse_guid(guid).ok_or(ManageError::NotFound)?;
        self.store
            .find_category(&guid)
            .await?
            .filter(|c| c.guid.eq_ignore_ascii_case(&guid))
            .ok_or(ManageError::NotFound)
    }

    /// An audit record of the actor's, now.
    pub(super) fn audit<'a>(&self, actor: &Actor, action: &'a str, detail: &'a str) -> Audit<'a> {
        Audit {
            actor_id: actor.principal.id,
            action,
            detail,
            at: self.now_nanos(),
        }
    }
}

/// Checks a room form's texts and what its category allows. Editing `current`, only what the
/// form changes is checked: a value set before a rule existed (or before the category
/// forbade file posting) stays until someone changes it.
fn check_form(
    form: &RoomForm,
    category: &Category,
    current: Option<&Room>,
) -> Result<(), ManageError> {
    let texts = [
        (
            Field::Name,
            TextKind::Name,
            &form.name,
            current.map(|r| &r.name),
        ),
        (
            Field::Description,
            TextKind::Description,
            &form.description,
            current.map(|r| &r.description),
        ),
        (
            Field::Topic,
            TextKind::Topic,
            &form.topic,
            current.map(|r| &r.topic),
        ),
    ];
    for (field, kind, value, old) in texts {
        if old != Some(value) {
            check_text(field, kind, value)?;
        }
    }
    let file_post_changed = current.is_none_or(|r| r.file_post != form.file_post);
    if file_post_changed && form.file_post == Some(true) && !category.file_post {
        return Err(ManageError::invalid(
            Field::FilePost,
            Problem::NotAllowedHere,
        ));
    }
    Ok(())
}

/// The update a form makes to a room, and its audit detail (`field: old → new` each);
/// nothing when the form changes nothing.
fn changes(info: &RoomInfo, form: &RoomForm) -> (RoomUpdate, Vec<String>) {
    let room = &info.room;
    let mut update = RoomUpdate::default();
    let mut detail = Vec::new();
    let mut text = |name: &str, old: &str, new: &str, slot: &mut Option<String>| {
        if old != new {
            detail.push(format!("{name}: {old:?} → {new:?}"));
            *slot = Some(new.to_owned());
        }
    };
    text("name", &room.name, &form.name, &mut update.name);
    text(
        "description",
        &room.description,
        &form.description,
        &mut update.description,
    );
    text("topic", &room.topic, &form.topic, &mut update.topic);
    if room.privacy != form.privacy {
        detail.push(format!("privacy: {} → {}", room.privacy, form.privacy));
        update.privacy = Some(form.privacy);
    }
    if room.behavior != form.behavior {
        detail.push(format!("type: {} → {}", room.behavior, form.behavior));
        update.behavior = Some(form.behavior);
    }
    if room.invitations != form.invitations {
        detail.push(format!(
            "invitations: {} → {}",
            room.invitations, form.invitations
        ));
        update.invitations = Some(form.invitations);
    }
    if room.file_post != form.file_post {
        detail.push(format!(
            "file posting: {} → {}",
            file_post_text(room.file_post),
            file_post_text(form.file_post)
        ));
        update.file_post = Some(form.file_post);
    }
    if room.disabled != form.disabled {
        detail.push(format!("disabled: {} → {}", room.disabled, form.disabled));
        update.disabled = Some(form.disabled);
    }
    (update, detail)
}

fn file_post_text(file_post: Option<bool>) -> &'static str {
    match file_post {
        None => "category's",
        Some(true) => "on",
        Some(false) => "off",
    }
}

/// A taken name is the name field's problem; anything else stays the store's.
pub(super) fn name_taken(e: StoreError) -> ManageError {
    match e {
        StoreError::Duplicate(_) => ManageError::invalid(Field::Name, Problem::Duplicate),
        other => other.into(),
    }
}
