//! Every command that touches a room, for every kind of principal, in every kind of room,
//! over the wire. The expectations are written out here independently of the server's own
//! permission code, from docs/protocol.md ("Refusals never reveal a Secret room").

use parlance_store::rooms::{Behavior, Privacy, Role, RoomUpdate};
use parlance_tests::TestServer;
use parlance_tests::chat::ChatClient;
use xccos::{ReplyData, ResponseCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Outsider,
    Member,
    Manager,
    Presenter,
}

const WHO: [Who; 4] = [Who::Outsider, Who::Member, Who::Manager, Who::Presenter];

fn user(who: Who) -> &'static str {
    match who {
        Who::Outsider => "outsider",
        Who::Member => "member",
        Who::Manager => "manager",
        Who::Presenter => "presenter",
    }
}

/// (visible in search, join code, SIP status of a post after joining, history code).
fn expected(
    privacy: Privacy,
    behavior: Behavior,
    disabled: bool,
    who: Who,
) -> (bool, ResponseCode, u16, ResponseCode) {
    use ResponseCode::*;
    let has_role = who != Who::Outsider;
    if disabled {
        let code = if has_role { NodeDisabled } else { NoSuchNode };
        return (false, code, 404, code);
    }
    let visible = privacy != Privacy::Secret || has_role;
    let may_join = match privacy {
        Privacy::Open => true,
        Privacy::Closed | Privacy::Secret => has_role,
    };
    let refusal = if visible { Permission } else { NoSuchNode };
    let join = if may_join { Ok } else { refusal };
    let post = match (may_join, behavior, who) {
        (false, _, _) => {
            if visible {
                403
            } else {
                404
            }
        }
        (true, Behavior::Auditorium, w) if w != Who::Presenter => 403,
        _ => 200,
    };
    (visible, join, post, join)
}

#[tokio::test]
async fn every_role_in_every_kind_of_room() {
    let s = TestServer::start().await;
    for who in WHO {
        s.add_user(user(who), "pw").await;
    }
    let mut rooms = Vec::new();
    for privacy in [Privacy::Open, Privacy::Closed, Privacy::Secret] {
        for behavior in [Behavior::Normal, Behavior::Auditorium] {
            for disabled in [false, true] {
                let name = format!(
                    "{privacy}-{behavior}-{}",
                    if disabled { "off" } else { "on" }
                );
                let roles = [
                    ("member", Role::Member),
                    ("manager", Role::Manager),
                    ("presenter", Role::Member),
                    ("presenter", Role::Presenter),
                ];
                let uri = s.add_room(&name, privacy, behavior, &roles).await;
                if disabled {
                    let info = s
                        .server()
                        .store
                        .room_by_guid(uri.rsplit('/').next().unwrap())
                        .await
                        .unwrap()
                        .unwrap();
                    let update = RoomUpdate {
                        disabled: Some(true),
                        ..RoomUpdate::default()
                    };
                    s.server()
                        .store
                        .update_room(info.room.id, &update)
                        .await
                        .unwrap();
                }
                rooms.push((name, uri, privacy, behavior, disabled));
            }
        }
    }
    let mut checked = 0;
    for who in WHO {
        let mut c = ChatClient::connect(&s, user(who), "pw").await;
        let reply = c.command("<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"\" extended=\"false\"/></data></cmd>").await;
        let ReplyData::ChanSrch(listed) = reply.data else {
            panic!()
        };
        let listed: Vec<String> = listed.into_iter().map(|c| c.uri).collect();
        for (name, uri, privacy, behavior, disabled) in &rooms {
            let (visible, join, post, history) = expected(*privacy, *behavior, *disabled, who);
            let case = format!("{who:?} in {name}");
            assert_eq!(listed.contains(uri), visible, "search: {case}");
            let got = c.join(uri).await.resp.response_code();
            assert_eq!(got, Some(join), "join: {case}");
            assert_eq!(c.post(uri, "hello").await, post, "post: {case}");
            if post == 200 {
                c.next_chat().await;
            }
            let reply = c.command(&format!("<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"{uri}\"/><bcq><last cnt=\"5\"/></bcq></data></cmd>")).await;
            assert_eq!(reply.resp.response_code(), Some(history), "history: {case}");
            let part = c
                .command(&format!(
                    "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"{uri}\"/></data></cmd>"
                ))
                .await;
            // Leaving a room one could not join: "not joined" only where the room is visible.
            let part_code = match (join, visible) {
                (ResponseCode::Ok, _) => ResponseCode::Ok,
                (_, true) => ResponseCode::UserNotJoined,
                (refused, false) => refused,
            };
            assert_eq!(part.resp.response_code(), Some(part_code), "part: {case}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 12);
}
