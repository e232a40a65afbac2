//! Client transactions waiting for their final answer, matched as sipe matches them: by
//! Call-ID and the CSeq (number and method) copied into the response (docs/protocol.md, "The client").

use std::collections::HashMap;

use sip_proto::{CSeq, Method, Request, Response};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    call_id: String,
    seq: u32,
    method: Method,
}

impl Key {
    fn of(call_id: &str, cseq: Option<CSeq>) -> Option<Key> {
        cseq.map(|c| Key {
            call_id: call_id.to_owned(),
            seq: c.seq,
            method: c.method,
        })
    }
}

/// What waits for each open transaction.
#[derive(Debug)]
pub(crate) struct Transactions<W> {
    open: HashMap<Key, W>,
}

impl<W> Default for Transactions<W> {
    fn default() -> Self {
        Transactions {
            open: HashMap::new(),
        }
    }
}

impl<W> Transactions<W> {
    pub fn start(&mut self, req: &Request, waiter: W) {
        if let Some(key) = Key::of(req.call_id(), req.cseq()) {
            self.open.insert(key, waiter);
        }
    }

    /// The waiter of the transaction a final response ends; provisional ones end nothing.
    pub fn finish(&mut self, resp: &Response) -> Option<W> {
        if resp.status < 200 {
            return None;
        }
        self.open.remove(&Key::of(resp.call_id(), resp.cseq())?)
    }

    /// Gives up on a transaction (its answer is no longer awaited).
    pub fn abandon(&mut self, req: &Request) {
        if let Some(key) = Key::of(req.call_id(), req.cseq()) {
            self.open.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_proto::{Uri, name};

    fn request(call_id: &str, cseq: &str) -> Request {
        let mut r = Request::new(Method::Info, Uri::parse("sip:x@y").unwrap());
        r.headers.push(name::CALL_ID, call_id);
        r.headers.push(name::CSEQ, cseq);
        r
    }

    #[test]
    fn matches_by_call_id_and_cseq() {
        let mut t = Transactions::default();
        t.start(&request("c1", "2 INFO"), "info 2");
        t.start(&request("c1", "3 INFO"), "info 3");
        t.start(&request("c2", "2 INFO"), "other dialog");
        let mut answer = Response::for_request(&request("c1", "3 INFO"), 100);
        assert_eq!(t.finish(&answer), None, "provisional");
        answer.status = 200;
        assert_eq!(t.finish(&answer), Some("info 3"));
        assert_eq!(t.finish(&answer), None, "answered once");
        t.abandon(&request("c2", "2 INFO"));
        assert_eq!(
            t.finish(&Response::for_request(&request("c2", "2 INFO"), 481)),
            None
        );
        assert_eq!(
            t.finish(&Response::for_request(&request("c1", "2 INFO"), 481)),
            Some("info 2")
        );
    }
}
