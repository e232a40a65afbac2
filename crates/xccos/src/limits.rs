//! Bounds on what the parser accepts, and the per-server chat size check.

use crate::error::ChatTooLarge;
use crate::shapes::STORY_PREFIX;

/// Hard bounds checked while parsing, before any typed value is built, so a hostile body
/// costs at most `max_body_bytes` of work and memory proportional to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Deepest element nesting; the `xccos` root is depth 1. The deepest known shape
    /// (`xccos/rpl/data/inv/chanib/uib/aib`) needs 7.
    pub max_depth: usize,
    /// Most attributes on one element, namespace declarations included.
    pub max_attributes: usize,
    /// Most child elements of one element: messages in an envelope, `chanid`s in a
    /// `cmd:bjoin`, `chanib`s in a reply, `msg`s in a history block.
    pub max_items: usize,
}

impl Default for Limits {
    /// Sized for client commands arriving at a server: a chat body is a few KiB, a
    /// `cmd:bjoin` names at most a few hundred rooms, and the SIP decoder already caps
    /// bodies at 256 KiB. A client reading large room lists or rosters raises `max_items`
    /// and `max_body_bytes`.
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            max_depth: 16,
            max_attributes: 32,
            max_items: 1000,
        }
    }
}

/// The server's `messageSizeLimit` and `storySizeLimit` (announced in `sib`), in bytes of
/// UTF-8 chat text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatSizeLimits {
    pub message_bytes: usize,
    pub story_bytes: usize,
}

impl ChatSizeLimits {
    /// Checks one chat text; a story (text starting with [`STORY_PREFIX`]) is measured
    /// against `story_bytes`, everything else against `message_bytes`.
    pub fn check(&self, text: &str) -> Result<(), ChatTooLarge> {
        let story = text.starts_with(STORY_PREFIX);
        let limit = if story {
            self.story_bytes
        } else {
            self.message_bytes
        };
        if text.len() > limit {
            return Err(ChatTooLarge {
                size: text.len(),
                limit,
                story,
            });
        }
        Ok(())
    }

    /// Checks an RTF copy: markup makes it several times its text, so it is measured
    /// against the larger limit, `story_bytes`, whatever the text is (reported as a story).
    pub fn check_rtf(&self, rtf: &str) -> Result<(), ChatTooLarge> {
        if rtf.len() > self.story_bytes {
            return Err(ChatTooLarge {
                size: rtf.len(),
                limit: self.story_bytes,
                story: true,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ChatSizeLimits = ChatSizeLimits {
        message_bytes: 4,
        story_bytes: 12,
    };

    #[test]
    fn message_limit_counts_utf8_bytes() {
        assert_eq!(LIMITS.check("abcd"), Ok(()));
        assert_eq!(
            LIMITS.check("abé"),
            Ok(()),
            "é is two bytes: 4 bytes in all"
        );
        assert_eq!(
            LIMITS.check("abcé"),
            Err(ChatTooLarge {
                size: 5,
                limit: 4,
                story: false
            })
        );
    }

    #[test]
    fn stories_use_the_story_limit() {
        assert_eq!(LIMITS.check("[STORY]abcde"), Ok(()));
        assert_eq!(
            LIMITS.check("[STORY]abcdef"),
            Err(ChatTooLarge {
                size: 13,
                limit: 12,
                story: true
            })
        );
    }

    #[test]
    fn an_rtf_copy_uses_the_story_limit() {
        assert_eq!(LIMITS.check_rtf("{\\rtf1 abcd}"), Ok(()));
        assert_eq!(
            LIMITS.check_rtf("{\\rtf1 abcde}"),
            Err(ChatTooLarge {
                size: 13,
                limit: 12,
                story: true
            })
        );
    }
}
