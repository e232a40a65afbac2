//! The 256-wide sliding window that drops replayed `cnum`s ([MS-SIP] 3.1.5.1 describes it
//! for `snum` on the client; the server keeps the same kind per association).

/// Accepted sequence numbers within the last [`ReplayWindow::SIZE`] of the highest one.
/// The window starts at whatever number comes first, because sipe does not reset its
/// counter when it re-authenticates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    top: Option<u32>,
    /// Bit `n % SIZE` is set when `n` (within the window) has been accepted.
    seen: [u64; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Already accepted once.
    Replayed,
    /// Too far below the highest number to be told apart from a replay.
    TooOld,
}

impl ReplayWindow {
    pub const SIZE: u32 = 256;

    /// Whether `n` would be accepted; does not record it.
    pub fn check(&self, n: u32) -> Result<(), Rejection> {
        match self.top {
            Some(top) if n <= top => {
                if top - n >= Self::SIZE {
                    Err(Rejection::TooOld)
                } else if self.is_set(n) {
                    Err(Rejection::Replayed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Records `n`, which [`check`](Self::check) accepted.
    pub fn accept(&mut self, n: u32) {
        match self.top {
            Some(top) if n > top => {
                if n - top >= Self::SIZE {
                    self.seen = [0; 4];
                } else {
                    for k in top + 1..n {
                        self.clear(k);
                    }
                }
                self.top = Some(n);
            }
            Some(_) => {}
            None => self.top = Some(n),
        }
        self.set(n);
    }

    fn slot(n: u32) -> (usize, u64) {
        let i = (n % Self::SIZE) as usize;
        (i / 64, 1 << (i % 64))
    }

    fn is_set(&self, n: u32) -> bool {
        let (w, bit) = Self::slot(n);
        self.seen[w] & bit != 0
    }

    fn set(&mut self, n: u32) {
        let (w, bit) = Self::slot(n);
        self.seen[w] |= bit;
    }

    fn clear(&mut self, n: u32) {
        let (w, bit) = Self::slot(n);
        self.seen[w] &= !bit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn take(w: &mut ReplayWindow, n: u32) -> Result<(), Rejection> {
        w.check(n)?;
        w.accept(n);
        Ok(())
    }

    #[test]
    fn in_order_out_of_order_and_replays() {
        let mut w = ReplayWindow::default();
        assert_eq!(take(&mut w, 7), Ok(()), "the window starts anywhere");
        assert_eq!(take(&mut w, 7), Err(Rejection::Replayed));
        assert_eq!(take(&mut w, 9), Ok(()));
        assert_eq!(take(&mut w, 8), Ok(()), "late but inside the window");
        assert_eq!(take(&mut w, 8), Err(Rejection::Replayed));
        assert_eq!(take(&mut w, 9 + 255), Ok(()));
        assert_eq!(take(&mut w, 9), Err(Rejection::Replayed));
        assert_eq!(take(&mut w, 8), Err(Rejection::TooOld));
        assert_eq!(
            take(&mut w, 10),
            Ok(()),
            "slot reused after the window moved"
        );
        assert_eq!(take(&mut w, 10_000), Ok(()));
        assert_eq!(take(&mut w, 10_000 - 255), Ok(()));
        assert_eq!(take(&mut w, 10_000 - 256), Err(Rejection::TooOld));
        assert_eq!(take(&mut w, u32::MAX), Ok(()));
        assert_eq!(take(&mut w, u32::MAX), Err(Rejection::Replayed));
    }

    proptest! {
        /// Against a model that remembers everything: inside the window the answer is
        /// exactly "seen before or not"; below it, always a rejection.
        #[test]
        fn matches_a_model(ns in proptest::collection::vec(0u32..2000, 1..300)) {
            let mut w = ReplayWindow::default();
            let mut accepted = std::collections::BTreeSet::new();
            let mut top: Option<u32> = None;
            for n in ns {
                let got = take(&mut w, n);
                let expected = match top {
                    Some(t) if n <= t && t - n >= ReplayWindow::SIZE => Err(Rejection::TooOld),
                    _ if accepted.contains(&n) => Err(Rejection::Replayed),
                    _ => Ok(()),
                };
                prop_assert_eq!(got, expected);
                if got.is_ok() {
                    accepted.insert(n);
                    top = Some(top.map_or(n, |t| t.max(n)));
                }
            }
        }
    }
}
