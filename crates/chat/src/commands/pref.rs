//! `cmd:getpref` and `cmd:setpref`: a principal's stored preferences, by label, each with a
//! version (`seqid`). A read sends the content only when the client's version is older; a
//! write must name the current version (else `DataCollision`) and stay within the
//! principal's quota (else `LimitExceeded`).

use xccos::{Pref, ReplyData, ResponseCode};

use super::Outcome;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn get(
    chat: &ChatService,
    principal: &Principal,
    pref: &Pref,
) -> Result<Outcome, ChatError> {
    let stored = chat.store.preference(principal.id, &pref.label).await?;
    Ok(Ok(ReplyData::GetPref(Some(match stored {
        // The client knows this version already: nothing to send.
        Some(p) if pref.seqid >= p.seq as u64 => Pref {
            label: p.label,
            seqid: p.seq as u64,
            create_default: None,
            content: None,
        },
        Some(p) => Pref {
            label: p.label,
            seqid: p.seq as u64,
            create_default: None,
            content: Some(p.content),
        },
        None => Pref {
            label: pref.label.clone(),
            seqid: 0,
            create_default: None,
            content: None,
        },
    }))))
}

pub(super) async fn set(
    chat: &ChatService,
    principal: &Principal,
    pref: &Pref,
) -> Result<Outcome, ChatError> {
    let current = chat
        .store
        .preference(principal.id, &pref.label)
        .await?
        .map_or(0, |p| p.seq as u64);
    if pref.seqid != current {
        return Ok(Err(ResponseCode::DataCollision));
    }
    let content = pref.content.clone().unwrap_or_default();
    let quota = chat.settings.preference_quota_bytes;
    match chat
        .store
        .set_preference(principal.id, &pref.label, &content, quota)
        .await
    {
        Ok(p) => Ok(Ok(ReplyData::SetPref(Some(Pref {
            label: p.label,
            seqid: p.seq as u64,
            create_default: None,
            content: None,
        })))),
        Err(parlance_store::StoreError::QuotaExceeded { limit, .. }) => {
            tracing::warn!(principal = %principal.uri, limit, "preference quota reached: setpref refused");
            Ok(Err(ResponseCode::LimitExceeded))
        }
        Err(e) => Err(e.into()),
    }
}
