//! `[compliance]` and `[retention]`: what is archived, and how long history is kept.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Config, ConfigError};
use crate::runtime::Priority;

/// History retention (`parlance category set --retention-days`), applied by the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// How often the server purges what the categories' retention lets go.
    pub interval_secs: u64,
    /// Messages (and files) one purge step removes, in one short transaction: chat waits
    /// for the store's writer at most one step at a time.
    pub step: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// Export the compliance outbox from the running server, every `interval_secs` and at
    /// shutdown. Off by default: the archive holds every message and posted file in the
    /// clear. `parlance compliance export` works either way.
    pub enabled: bool,
    /// The output directory; default `<data_dir>/compliance`, made when missing. A
    /// directory set here must exist (an archive share that is not mounted is an error,
    /// not a directory created in its place).
    pub dir: Option<PathBuf>,
    pub interval_secs: u64,
    /// `xml` (the original's XmlAdapter) or `json_lines`.
    pub adapter: parlance_compliance::Adapter,
    /// One output file per room and batch (OneChatRoomPerOutputFile).
    pub one_room_per_file: bool,
    /// The room's name in `Channel@name`, else its URI (AddChatRoomDetails).
    pub room_details: bool,
    /// `UserName`, `email` and `internal` on `Sender` (AddUserDetails).
    pub user_details: bool,
    /// Events in one output batch at most.
    pub batch_events: u32,
    /// How long exported rows stay in the outbox; 0 deletes them once archived.
    pub keep_exported_secs: u64,
    /// How far below the chat's priority the server's exports run: `"idle"` (Linux's
    /// `SCHED_IDLE`), or a number of nice steps (0–19).
    pub priority: Priority,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            interval_secs: 3600,
            step: 500,
        }
    }
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        ComplianceConfig {
            enabled: false,
            dir: None,
            interval_secs: 15 * 60,
            adapter: parlance_compliance::Adapter::Xml,
            one_room_per_file: false,
            room_details: true,
            user_details: true,
            batch_events: 10_000,
            keep_exported_secs: 0,
            priority: Priority::Idle,
        }
    }
}

impl Config {
    pub(super) fn validate_archive(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        for (key, value) in [
            ("compliance.interval_secs", self.compliance.interval_secs),
            (
                "compliance.batch_events",
                u64::from(self.compliance.batch_events),
            ),
        ] {
            if value == 0 {
                return bad(format!("{key} must be at least 1"));
            }
        }
        if self.retention.interval_secs == 0 || self.retention.step == 0 {
            return bad("retention.interval_secs and retention.step must be at least 1".into());
        }
        Ok(())
    }

    /// The compliance output directory.
    pub fn compliance_dir(&self) -> PathBuf {
        self.compliance
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("compliance"))
    }

    /// The lock one compliance exporter at a time holds, beside the database it exports.
    pub fn compliance_lock_path(&self) -> PathBuf {
        self.data_dir.join("compliance-export.lock")
    }

    /// How `[compliance]` says to export.
    pub fn export_settings(&self) -> parlance_compliance::ExportSettings {
        let c = &self.compliance;
        let mut settings = parlance_compliance::ExportSettings::new(
            self.compliance_dir(),
            self.compliance_lock_path(),
            self.domain.clone(),
        );
        settings.adapter = c.adapter;
        settings.one_room_per_file = c.one_room_per_file;
        settings.details = parlance_compliance::Details {
            rooms: c.room_details,
            users: c.user_details,
        };
        settings.batch_events = c.batch_events;
        settings.keep_exported = std::time::Duration::from_secs(c.keep_exported_secs);
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compliance_export_is_configured_and_checked() {
        let c: Config = toml::from_str("domain = \"example.com\"").unwrap();
        assert!(!c.compliance.enabled);
        assert_eq!(
            c.compliance_dir(),
            PathBuf::from("parlance-data/compliance")
        );
        let s = c.export_settings();
        assert_eq!(s.adapter, parlance_compliance::Adapter::Xml);
        assert_eq!(s.keep_exported, std::time::Duration::ZERO);
        let c: Config = toml::from_str(
            "domain = \"example.com\"\n[compliance]\nenabled = true\ndir = \"/archive\"\nadapter = \"json_lines\"\none_room_per_file = true\nuser_details = false\nkeep_exported_secs = 86400",
        )
        .unwrap();
        c.validate().unwrap();
        let s = c.export_settings();
        assert_eq!(s.dir, PathBuf::from("/archive"));
        assert_eq!(s.adapter, parlance_compliance::Adapter::JsonLines);
        assert!(s.one_room_per_file && s.details.rooms && !s.details.users);
        assert_eq!(s.keep_exported, std::time::Duration::from_secs(86400));
        for bad in ["interval_secs = 0", "batch_events = 0"] {
            let c: Config =
                toml::from_str(&format!("domain = \"example.com\"\n[compliance]\n{bad}")).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        for bad in ["priority = 20", "priority = \"low\""] {
            let err = toml::from_str::<Config>(&format!("[compliance]\n{bad}")).unwrap_err();
            assert!(err.to_string().contains("priority"), "{err}");
        }
        let c: Config = toml::from_str("[compliance]\npriority = \"idle\"").unwrap();
        assert_eq!(c.compliance.priority, Priority::Idle);
        let err = toml::from_str::<Config>("[compliance]\nadapter = \"csv\"").unwrap_err();
        assert!(err.to_string().contains("csv"), "{err}");
    }
}
