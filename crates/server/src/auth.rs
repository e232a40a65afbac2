//! How the front end checks who signs in, as `[auth]` sets it: Digest, NTLM when it is on,
//! and the throttle that slows down those who keep failing.

use std::sync::Arc;

use parlance_chat::throttle::{Throttle, ThrottleLimits};
use parlance_clock::Clock;
use parlance_metrics::Metrics;
use parlance_store::{ServerKey, Store};

use crate::StartError;
use crate::config::{self, Config};
use crate::frontend::auth::DigestAuth;
use crate::frontend::ntlm::Ntlm;

/// Digest authentication with the configured realm, algorithms and nonce lifetime.
pub(crate) fn digest(config: &Config, clock: Clock) -> Result<DigestAuth, StartError> {
    Ok(DigestAuth::new(
        config.realm(),
        config.digest_algorithms()?,
        config.auth.nonce_lifetime_secs,
        clock,
    ))
}

/// The failed sign-in throttle, counting what it refuses in `metrics`.
pub(crate) fn throttle(config: &Config, clock: Clock, metrics: &Metrics) -> Arc<Throttle> {
    Arc::new(Throttle::new(
        ThrottleLimits {
            per_account_address: config.auth.max_failures_per_account_address,
            per_address: config.auth.max_failures_per_address,
            first_delay_secs: config.auth.failure_delay_secs,
            max_delay_secs: config.auth.max_failure_delay_secs,
            window_secs: config.auth.failure_window_secs,
        },
        clock,
        metrics.auth_failures.clone(),
    ))
}

/// NTLM (the SIP security association of Lync's clients), when `auth.ntlm` is on.
pub(crate) fn ntlm(
    config: &Config,
    store: &Store,
    key: &ServerKey,
) -> Result<Option<Ntlm>, StartError> {
    if !config.auth.ntlm {
        return Ok(None);
    }
    let targetname = config
        .auth
        .ntlm_targetname
        .clone()
        .unwrap_or_else(|| config.domain.clone());
    let ntlm_config = sipae::ServerConfig::new(&targetname, &config.domain);
    let ntlm = Ntlm::new(ntlm_config, store.clone(), key.clone(), &config.domain)
        .map_err(|e| config::ConfigError::Invalid(format!("NTLM: {e}")))?;
    Ok(Some(ntlm))
}
