//! Categories: where an actor may create rooms, and what administrators manage — a
//! category's settings (the defaults its rooms inherit), its creators and its scope.

use parlance_store::rooms::{Category, CategoryUpdate, ScopeEntry, TextKind};

use super::people::check_people_count;
use super::views::{PAGE_CHANGES, audit_view, category_view, person_view};
use super::{Actor, AuditView, CategoryView, Field, ManageError, PersonView, Problem, check_text};
use crate::ChatService;
use crate::permissions::{can_create_rooms, creator_change};

/// A category as its administration page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryAdminView {
    pub category: CategoryView,
    /// Chat history is kept in its rooms.
    pub logged: bool,
    /// Who may create rooms in it.
    pub creators: Vec<PersonView>,
    /// The scope's allow list (empty: everyone not denied).
    pub allowed: Vec<PersonView>,
    pub denied: Vec<PersonView>,
    /// Recent audit records, newest first.
    pub changes: Vec<AuditView>,
}

/// A category's settings as the administration form sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryForm {
    pub name: String,
    pub description: String,
    pub file_post: bool,
    pub invitations: bool,
    pub logged: bool,
}

impl ChatService {
    /// The categories in which the actor may create rooms (every one below the root, for
    /// administrators), by name.
    pub async fn creatable_categories(
        &self,
        actor: &Actor,
    ) -> Result<Vec<CategoryView>, ManageError> {
        let creator_of = self.store.creator_categories(actor.principal.id).await?;
        let mut views = Vec::new();
        for category in self.store.categories().await? {
            if category.parent_id.is_none() {
                continue;
            }
            let creator = creator_of.iter().any(|c| c.id == category.id);
            // Scope matters only to creators: no lookup for the others.
            let in_scope = creator && self.store.in_scope(category.id, actor.principal.id).await?;
            if can_create_rooms(creator, in_scope, actor.admin) {
                views.push(category_view(&category));
            }
        }
        Ok(views)
    }

    /// Every category below the root, for administrators.
    pub async fn categories_admin(
        &self,
        actor: &Actor,
    ) -> Result<Vec<CategoryAdminView>, ManageError> {
        require_admin(actor)?;
        let mut views = Vec::new();
        for category in self.store.categories().await? {
            if category.parent_id.is_some() {
                views.push(self.category_admin_view(&category).await?);
            }
        }
        Ok(views)
    }

    /// One category's administration page.
    pub async fn category_admin(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<CategoryAdminView, ManageError> {
        require_admin(actor)?;
        let category = self.category_by_guid(guid).await?;
        self.category_admin_view(&category).await
    }

    /// Changes a category's settings; its rooms' sessions hear of the properties they
    /// inherit at once.
    pub async fn edit_category(
        &self,
        actor: &Actor,
        guid: &str,
        form: &CategoryForm,
    ) -> Result<CategoryAdminView, ManageError> {
        require_admin(actor)?;
        let category = self.category_by_guid(guid).await?;
        check_text(Field::Name, TextKind::Name, &form.name)?;
        check_text(Field::Description, TextKind::Description, &form.description)?;
        let mut update = CategoryUpdate::default();
        let mut detail = Vec::new();
        if category.name != form.name {
            detail.push(format!("name: {:?} → {:?}", category.name, form.name));
            update.name = Some(form.name.clone());
        }
        if category.description != form.description {
            detail.push(format!(
                "description: {:?} → {:?}",
                category.description, form.description
            ));
            update.description = Some(form.description.clone());
        }
        let flags = [
            (
                "file posting",
                category.file_post,
                form.file_post,
                &mut update.file_post,
            ),
            (
                "invitations",
                category.invitations,
                form.invitations,
                &mut update.invitations,
            ),
            (
                "history kept",
                category.logged,
                form.logged,
                &mut update.logged,
            ),
        ];
        for (name, old, new, slot) in flags {
            if old != new {
                detail.push(format!("{name}: {old} → {new}"));
                *slot = Some(new);
            }
        }
        if detail.is_empty() {
            return self.category_admin_view(&category).await;
        }
        let detail = detail.join("; ");
        let audit = self.audit(actor, "category.edit", &detail);
        let edited = self
            .store
            .edit_category(category.id, &update, &audit)
            .await
            .map_err(super::rooms::name_taken)?;
        tracing::info!(actor = %actor.principal.uri, category = %category.guid, changes = %detail, "category edited");
        for info in self.store.rooms().await? {
            if info.category.id == category.id {
                self.room_changed(info.room.id, false).await?;
            }
        }
        self.category_admin_view(&edited).await
    }

    /// Gives the creator role in a category to the people of `add` and takes it from those
    /// of `remove`.
    pub async fn set_category_creators(
        &self,
        actor: &Actor,
        guid: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<CategoryAdminView, ManageError> {
        require_admin(actor)?;
        let category = self.category_by_guid(guid).await?;
        check_people_count(add.len() + remove.len())?;
        let mut creators = Vec::new();
        let mut detail = Vec::new();
        for (people, on, sign) in [(add, true, '+'), (remove, false, '-')] {
            for address in people {
                let (id, uri) = self.person(address).await?;
                let in_scope = self.store.in_scope(category.id, id).await?;
                creator_change(on, in_scope).map_err(|_| {
                    ManageError::invalid(Field::Person(address.clone()), Problem::NotAllowedHere)
                })?;
                creators.push((id, on));
                detail.push(format!("{sign}{uri}"));
            }
        }
        self.change_category_people(actor, &category, &creators, &[], detail)
            .await
    }

    /// Puts people on the scope's allow list (`Some(Allow)`), its deny list
    /// (`Some(Deny)`), or off both (`None`). Everyone in the category's rooms is
    /// re-checked at once: a denied member leaves.
    pub async fn set_category_scope(
        &self,
        actor: &Actor,
        guid: &str,
        entry: Option<ScopeEntry>,
        people: &[String],
    ) -> Result<CategoryAdminView, ManageError> {
        require_admin(actor)?;
        let category = self.category_by_guid(guid).await?;
        let list = match entry {
            Some(ScopeEntry::Allow) => "allowed",
            Some(ScopeEntry::Deny) => "denied",
            None => "unlisted",
        };
        check_people_count(people.len())?;
        let mut scope = Vec::new();
        let mut detail = Vec::new();
        for address in people {
            let (id, uri) = self.person(address).await?;
            scope.push((id, entry));
            detail.push(format!("{list}: {uri}"));
        }
        self.change_category_people(actor, &category, &[], &scope, detail)
            .await
    }

    async fn change_category_people(
        &self,
        actor: &Actor,
        category: &Category,
        creators: &[(i64, bool)],
        scope: &[(i64, Option<ScopeEntry>)],
        detail: Vec<String>,
    ) -> Result<CategoryAdminView, ManageError> {
        if !detail.is_empty() {
            let detail = detail.join(", ");
            let audit = self.audit(actor, "category.people", &detail);
            self.store
                .change_category_people(category.id, creators, scope, &audit)
                .await?;
            tracing::info!(actor = %actor.principal.uri, category = %category.guid, changes = %detail, "category people changed");
            if !scope.is_empty() {
                self.recheck_access(None, None, Some(category.id)).await?;
            }
        }
        self.category_admin_view(category).await
    }

    async fn category_admin_view(
        &self,
        category: &Category,
    ) -> Result<CategoryAdminView, ManageError> {
        let mut creators = Vec::new();
        for id in self.store.category_creators(category.id).await? {
            creators.extend(self.person_by_id(id).await?);
        }
        let (mut allowed, mut denied) = (Vec::new(), Vec::new());
        for (id, entry) in self.store.category_scope(category.id).await? {
            let list = match entry {
                ScopeEntry::Allow => &mut allowed,
                ScopeEntry::Deny => &mut denied,
            };
            list.extend(self.person_by_id(id).await?);
        }
        let changes = self
            .store
            .audit_for_category(category.id, PAGE_CHANGES)
            .await?
            .into_iter()
            .map(audit_view)
            .collect();
        Ok(CategoryAdminView {
            category: category_view(category),
            logged: category.logged,
            creators,
            allowed,
            denied,
            changes,
        })
    }

    async fn person_by_id(&self, id: i64) -> Result<Option<PersonView>, ManageError> {
        Ok(self
            .store
            .user_by_id(id)
            .await?
            .map(|u| person_view(u.uri, u.display_name)))
    }
}

fn require_admin(actor: &Actor) -> Result<(), ManageError> {
    if actor.admin {
        Ok(())
    } else {
        Err(ManageError::Forbidden)
    }
}
