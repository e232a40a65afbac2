//! The client half of the handshake, for Parlance's own client and for tests that need a
//! real peer: answers a CHALLENGE with an AUTHENTICATE the way sipe and Office
//! Communicator 2007 R2 do, and signs with the client keys.

use crate::av_pairs::AvPairs;
use crate::buffer::{AuthFields, MessageFields, signature_buffer};
use crate::flags::NegotiateFlags;
use crate::keys::SessionKeys;
use crate::messages::{AuthenticateMessage, ChallengeMessage, MessageError, Version};
use crate::ntlmv2::{self, NtHash, Uppercase};
use crate::signature::{SIPAE_SEQUENCE_NUMBER, Signature, sign, verify};

/// Who the client is and how it answers.
#[derive(Debug, Clone)]
pub struct ClientConfig<'a> {
    pub user: &'a str,
    pub domain: &'a str,
    pub workstation: &'a str,
    pub nt_hash: NtHash,
    /// Windows clients upper-case the user name fully, sipe only in ASCII.
    pub uppercase: Uppercase,
    pub flags: NegotiateFlags,
    pub version: Version,
    /// Announce a MIC (MsvAvFlags) and send it.
    pub with_mic: bool,
}

/// The random inputs of one AUTHENTICATE.
#[derive(Debug, Clone, Copy)]
pub struct ClientRandom {
    pub client_challenge: [u8; 8],
    pub random_session_key: [u8; 16],
    /// FILETIME for the NTLMv2 blob when the CHALLENGE carries no MsvAvTimestamp.
    pub time: u64,
}

/// An AUTHENTICATE and the keys it sets up.
#[derive(Debug, Clone)]
pub struct ClientAuthenticate {
    pub message: Vec<u8>,
    pub flags: NegotiateFlags,
    pub keys: SessionKeys,
}

/// Builds the AUTHENTICATE for `challenge` (the CHALLENGE bytes as received): NTLMv2 with
/// the server's TargetInfo echoed in the blob, the LMv2 response beside it, and the random
/// session key sent encrypted (KEY_EXCH).
pub fn authenticate(
    challenge: &[u8],
    config: &ClientConfig<'_>,
    random: &ClientRandom,
) -> Result<ClientAuthenticate, MessageError> {
    let server = ChallengeMessage::decode(challenge)?;
    let mut av_pairs = server.target_info.unwrap_or_default();
    let time = av_pairs.timestamp().unwrap_or(random.time);
    if config.with_mic {
        av_pairs.push(
            AvPairs::FLAGS,
            AvPairs::FLAG_MIC_PRESENT.to_le_bytes().to_vec(),
        )?;
    }

    let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
    blob.extend_from_slice(&time.to_le_bytes());
    blob.extend_from_slice(&random.client_challenge);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(&av_pairs.encode());
    blob.extend_from_slice(&[0; 4]);

    let key = ntlmv2::ntowfv2(
        &config.nt_hash,
        config.user,
        config.domain,
        config.uppercase,
    );
    let proof = ntlmv2::nt_proof_str(&key, &server.server_challenge, &blob);
    let session_base_key = ntlmv2::session_base_key(&key, &proof);
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&blob);

    let mut message = AuthenticateMessage {
        flags: config.flags,
        lm_response: ntlmv2::lmv2_response(
            &key,
            &server.server_challenge,
            &random.client_challenge,
        )
        .to_vec(),
        nt_response,
        domain: config.domain.to_owned(),
        user: config.user.to_owned(),
        workstation: config.workstation.to_owned(),
        encrypted_random_session_key: ntlmv2::rc4_session_key(
            &session_base_key,
            &random.random_session_key,
        )
        .to_vec(),
        version: Some(config.version),
        mic: config.with_mic.then_some([0; 16]),
    };
    let mut bytes = message.encode()?;
    if config.with_mic {
        let mic = ntlmv2::mic(&random.random_session_key, challenge, &bytes);
        message.mic = Some(mic);
        bytes = message.encode()?;
    }
    Ok(ClientAuthenticate {
        message: bytes,
        flags: config.flags,
        keys: SessionKeys::derive(&random.random_session_key, config.flags),
    })
}

impl ClientAuthenticate {
    /// Signs a message the client sends (`response` for its `Authorization`).
    pub fn sign(&self, version: u32, auth: &AuthFields<'_>, msg: &MessageFields<'_>) -> Signature {
        let buffer = signature_buffer(version, auth, msg);
        sign(
            &self.keys.client,
            self.flags,
            SIPAE_SEQUENCE_NUMBER,
            buffer.as_bytes(),
            0,
        )
    }

    /// Checks a server signature (`rspauth` from `Authentication-Info`).
    pub fn verify_server(
        &self,
        version: u32,
        auth: &AuthFields<'_>,
        msg: &MessageFields<'_>,
        rspauth: &Signature,
    ) -> bool {
        let buffer = signature_buffer(version, auth, msg);
        verify(
            &self.keys.server,
            self.flags,
            SIPAE_SEQUENCE_NUMBER,
            buffer.as_bytes(),
            rspauth,
        )
    }
}
