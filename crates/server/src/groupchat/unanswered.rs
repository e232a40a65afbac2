//! How the answers to the server's own requests in a chat dialog find them. The branch of
//! each request names its dialog and CSeq (`z9hG4bK.<session>.<nonce>.<cseq>`), so an
//! answer is matched by reading its branch: no table of transactions, no timer per
//! request. Each dialog keeps the CSeqs it still awaits, oldest first, and the
//! housekeeping sweep ends a dialog whose oldest has waited longer than a client
//! transaction may (RFC 3261 Timer F), as if it had been answered 408.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parlance_chat::SessionId;
use parlance_chat::backlog::OutputBacklog;
use sip_proto::BRANCH_COOKIE;

/// RFC 3261 Timer F (64 × T1): how long a non-INVITE client transaction waits.
pub(super) const ANSWER_WAIT: Duration = Duration::from_secs(32);

/// The part of a dialog's branches that stays the same: which session, and a random
/// nonce so that a branch is not used twice across server runs (session numbers start
/// again at 1).
pub(super) fn branch_stem(session: SessionId, nonce: &str) -> String {
    format!("{BRANCH_COOKIE}.{session}.{nonce}.")
}

/// The session and CSeq a branch of ours names, and its stem; `None` for any other branch
/// (the proxy's carry no dot after the cookie).
pub(super) fn read_branch(branch: &str) -> Option<(SessionId, &str, u32)> {
    let rest = branch.strip_prefix(BRANCH_COOKIE)?.strip_prefix('.')?;
    let (session, rest) = rest.split_once('.')?;
    let (_nonce, cseq) = rest.split_once('.')?;
    let stem = &branch[..branch.len() - cseq.len()];
    Some((session.parse().ok()?, stem, cseq.parse().ok()?))
}

/// The CSeqs of a dialog's requests that await their answers, with when each was sent.
///
/// A dialog awaiting answers is counted in the server's output backlog: a delivery is
/// chat work under way until its member has it, and on the way the member's client reads,
/// decrypts and parses it and the server reads and matches the answer. File transfers wait
/// for that too ([`OutputBacklog`]). The count moves when the dialog's first request starts
/// waiting and when its last is answered (or the dialog goes), not per delivery.
#[derive(Debug)]
pub(super) struct Unanswered {
    waiting: VecDeque<(u32, Instant)>,
    backlog: OutputBacklog,
}

impl Unanswered {
    pub fn new(backlog: OutputBacklog) -> Unanswered {
        Unanswered {
            waiting: VecDeque::new(),
            backlog,
        }
    }

    pub fn sent(&mut self, cseq: u32, at: Instant) {
        if self.waiting.is_empty() {
            self.backlog.queued();
        }
        self.waiting.push_back((cseq, at));
    }

    /// The final answer to `cseq` came; whether it was awaited. Clients answer in order,
    /// so the search ends at the front.
    pub fn answered(&mut self, cseq: u32) -> bool {
        match self.waiting.iter().position(|(c, _)| *c == cseq) {
            Some(i) => {
                self.waiting.remove(i);
                if self.waiting.is_empty() {
                    self.backlog.drained();
                }
                true
            }
            None => false,
        }
    }

    /// Whether the oldest has waited longer than [`ANSWER_WAIT`] at `now`.
    pub fn overdue(&self, now: Instant) -> bool {
        self.waiting
            .front()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) > ANSWER_WAIT)
    }
}

impl Drop for Unanswered {
    /// A dialog that ends with requests unanswered leaves the backlog with them.
    fn drop(&mut self) {
        if !self.waiting.is_empty() {
            self.backlog.drained();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_names_its_session_and_cseq() {
        let stem = branch_stem(42, "0a1b2c3d");
        assert_eq!(stem, "z9hG4bK.42.0a1b2c3d.");
        let branch = format!("{stem}7");
        assert_eq!(read_branch(&branch), Some((42, stem.as_str(), 7)));
        // The proxy's branches, and anything else, are not ours.
        for other in [
            "z9hG4bK0a1b2c3d4e5f6a7b.0",
            "z9hG4bK.42.0a1b2c3d",
            "z9hG4bK.x.0a1b2c3d.7",
            "z9hG4bK.42.0a1b2c3d.-7",
            "z9hG4bK.42.0a1b2c3d.",
            "branch",
        ] {
            assert_eq!(read_branch(other), None, "{other}");
        }
    }

    #[test]
    fn answers_are_taken_once_in_any_order_and_the_oldest_waits_longest() {
        let start = Instant::now();
        let backlog = OutputBacklog::new();
        let mut waiting = Unanswered::new(backlog.clone());
        for cseq in 1..=3 {
            waiting.sent(cseq, start + Duration::from_secs(u64::from(cseq)));
        }
        assert!(backlog.is_busy(), "requests await their answers");
        assert!(waiting.answered(2));
        assert!(!waiting.answered(2), "an answer counts once");
        assert!(!waiting.answered(9), "nothing was sent with this CSeq");
        assert!(!waiting.overdue(start + ANSWER_WAIT + Duration::from_secs(1)));
        assert!(waiting.overdue(start + ANSWER_WAIT + Duration::from_millis(1001)));
        assert!(waiting.answered(1));
        assert!(!waiting.overdue(start + ANSWER_WAIT + Duration::from_secs(2)));
        assert!(backlog.is_busy());
        assert!(waiting.answered(3));
        assert!(
            !waiting.overdue(start + Duration::from_secs(3600)),
            "nothing waits"
        );
        assert!(!backlog.is_busy(), "every request answered");
        waiting.sent(4, start);
        drop(waiting);
        assert!(
            !backlog.is_busy(),
            "the dialog ended with a request unanswered"
        );
    }
}
