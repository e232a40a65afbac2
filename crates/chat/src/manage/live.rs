//! What connected clients hear of a change made in the room-management application, at
//! once: the sessions in the room get the room's new properties (`ntc:chanupd`), sessions
//! that may no longer be there leave it (`ntc:part`, through [`ChatService::recheck_access`]),
//! and a manager made or unmade while present shows in the roster (`ntc:join` with the
//! role's `aib` key, as when joining).

use xccos::{Aib, ChanId, Chanib, Notice, Uib};

use crate::commands::chansrch::listing;
use crate::{ChatError, ChatService};

impl ChatService {
    /// After a room's settings changed: first those who may no longer be in it leave (when
    /// `access_changed`), then the others get its properties as they are now.
    pub(super) async fn room_changed(
        &self,
        room_id: i64,
        access_changed: bool,
    ) -> Result<(), ChatError> {
        if access_changed {
            self.recheck_access(None, Some(room_id), None).await?;
        }
        // The other nodes' sessions get the properties too; who may stay they learn from
        // the store's access change feed.
        self.publish(room_id, parlance_bus::RoomEventKind::Changed);
        self.announce_settings(room_id).await
    }

    /// Tells the sessions in a room its properties as they are now (`ntc:chanupd`): after
    /// any change of its settings, whichever path made it (the room-management application
    /// here, the admin commands through the access change feed).
    pub async fn announce_settings(&self, room_id: i64) -> Result<(), ChatError> {
        let Some(info) = self.store.room_by_id(room_id).await? else {
            return Ok(());
        };
        let chanib = Chanib {
            topic: Some(info.room.topic.clone()),
            ..listing(self, &info)
        };
        // In the room's order: a post committed before the change reaches everyone first.
        let _order = self.lock_room(room_id).await;
        let targets = self.rosters().targets(room_id);
        self.send(&targets, Notice::ChanUpd(vec![chanib]));
        Ok(())
    }

    /// After people were given or lost a role: those who lost one are re-checked (a member
    /// removed leaves at once), and a manager role given or taken shows in the roster.
    pub(super) async fn roles_changed(
        &self,
        room_id: i64,
        manager_role: bool,
        added: &[(i64, String)],
        removed: &[(i64, String)],
    ) -> Result<(), ChatError> {
        for (principal_id, _) in removed {
            self.recheck_access(Some(*principal_id), Some(room_id), None)
                .await?;
        }
        if !manager_role {
            return Ok(());
        }
        let Some(info) = self.store.room_by_id(room_id).await? else {
            return Ok(());
        };
        let Some(channel) = ChanId::from_uri(0, &self.room_uri(&info)) else {
            return Ok(());
        };
        let _order = self.lock_room(room_id).await;
        let changed = [(added, true), (removed, false)];
        for (people, manager) in changed {
            for (principal_id, uri) in people {
                let present = self.rosters().set_manager(room_id, *principal_id, manager);
                if present {
                    // The other nodes list the principal with its new role.
                    self.publish(
                        room_id,
                        parlance_bus::RoomEventKind::Joined(parlance_bus::Presence {
                            principal: *principal_id,
                            uri: uri.clone(),
                            manager,
                        }),
                    );
                }
                let crowded =
                    self.rosters().user_count(room_id) > self.settings.participant_update_limit;
                if !present || crowded {
                    continue;
                }
                let uib = role_uib(uri, manager, &channel);
                let targets = self.rosters().targets(room_id);
                self.send(&targets, Notice::Join(vec![uib]));
            }
        }
        Ok(())
    }
}

/// A user's entry in an `ntc:join` that shows its role in a room (the `aib` key of a manager
/// or a member), as when it joined.
pub(crate) fn role_uib(user: &str, manager: bool, channel: &ChanId) -> Uib {
    let key = if manager {
        xccos::AIB_KEY_MANAGER
    } else {
        xccos::AIB_KEY_MEMBER
    };
    Uib {
        aibs: vec![Aib::room(key, channel)],
        ..Uib::new(user)
    }
}
