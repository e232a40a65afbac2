//! Every message with the exact bytes of the protocol reference (`shared/protocol/xccos.md`)
//! and of the pidgin-sipe capture (`shared/protocol/sipe-transcript.txt`): client commands
//! parse to the expected values and serialise back to the same bytes; replies, notices and
//! server chat serialise to the reference's shapes.
//!
//! Placeholders of the reference (`<DOMAIN>`, `envid="..."`, `<BASE64 text>`) are replaced
//! by concrete values, since they are not XML.

use xccos::{
    AIB_KEY_MANAGER, AIB_KEY_MEMBER, Aib, Bcq, ChanId, Chanib, ChatMessage, Command, CommandKind,
    CommandRef, Envelope, Fib, Ftdb, GrpChat, Inv, JoinData, Limits, Message, Notice, Pref, Qib,
    Reply, ReplyData, Resp, ResponseCode, Sib, Token, Uib, shapes,
};

const LOBBY: &str = "ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01";
const ENGINEERING: &str = "ma-chan://example.test/9c0e5a77-31d2-4c1e-8f0b-6d2e8a4b5c02";
const OPS: &str = "ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e";

fn parse(xml: &str) -> Envelope {
    Envelope::parse(xml.as_bytes(), &Limits::default()).unwrap()
}

fn only(xml: &str) -> Message {
    let mut envelope = parse(xml);
    assert_eq!(envelope.messages.len(), 1);
    envelope.messages.remove(0)
}

fn command(xml: &str) -> Command {
    match only(xml) {
        Message::Command(c) => c,
        other => panic!("expected a command, got {other:?}"),
    }
}

fn reply(xml: &str) -> Reply {
    match only(xml) {
        Message::Reply(r) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// A client body as sipe sends it: it parses to `kind` and serialises back byte for byte.
fn assert_client_command(xml: &str, kind: CommandKind) {
    let envelope = parse(xml);
    assert_eq!(
        envelope.messages,
        vec![Message::Command(Command { seqid: 1, kind })]
    );
    assert_eq!(envelope.to_xml(), xml);
}

/// A server body: `value` serialises to exactly `xml`, and `xml` parses back to `value`.
fn assert_server_body(envelope: Envelope, xml: &str) {
    assert_eq!(envelope.to_xml(), xml);
    assert_eq!(parse(xml), envelope);
}

fn ok_reply(seqid_envid: (u64, u64), data: ReplyData) -> Reply {
    Reply {
        seqid: seqid_envid.0,
        command: Some(CommandRef {
            seqid: seqid_envid.0,
            envid: seqid_envid.1,
        }),
        resp: ResponseCode::Ok.into(),
        data,
    }
}

fn chanid(key: u32, uri: &str) -> ChanId {
    ChanId::from_uri(key, uri).unwrap()
}

fn uib(id: u64, uri: &str) -> Uib {
    Uib {
        id: Some(id),
        ..Uib::new(uri)
    }
}

/// The `grpchat` a client body carries.
fn command_grpchat(xml: &str) -> GrpChat {
    match only(xml) {
        Message::GrpChat(g) => g,
        other => panic!("expected grpchat, got {other:?}"),
    }
}

fn chat(channel_uri: &str, author: &str, ts: &str, text: &str) -> ChatMessage {
    ChatMessage {
        channel_uri: channel_uri.into(),
        author: author.into(),
        ts: Some(ts.into()),
        message_id: None,
        text: text.into(),
        alert: false,
        rtf: None,
    }
}

mod sipe_transcript {
    use super::*;

    #[test]
    fn cmd_requri() {
        assert_client_command(
            r#"<xccos ver="1" envid="548905155" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:requri" seqid="1"><data/></cmd></xccos>"#,
            CommandKind::ReqUri,
        );
    }

    #[test]
    fn rpl_requri() {
        assert_server_body(
            Envelope::new(
                6981,
                ok_reply(
                    (1, 548905155),
                    ReplyData::ReqUri(Some(Uib::new("sip:chatsrv@example.test"))),
                ),
            ),
            r#"<xccos ver="1" envid="6981" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:requri" seqid="1"><commandid seqid="1" envid="548905155"/><resp code="200">SUCCESS_OK</resp><data><uib uri="sip:chatsrv@example.test"/></data></rpl></xccos>"#,
        );
    }

    #[test]
    fn cmd_getinv() {
        assert_client_command(
            r#"<xccos ver="1" envid="548905156" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:getinv" seqid="1"><data><inv inviteId="1" domain="example.test"/></data></cmd></xccos>"#,
            CommandKind::GetInv(Some(Inv {
                invite_id: 1,
                domain: Some("example.test".into()),
                ts: None,
                chanib: None,
            })),
        );
    }

    #[test]
    fn rpl_getinv_empty() {
        let captured = r#"<xccos ver="1" envid="6982" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getinv" seqid="1"><commandid seqid="1" envid="548905156"/><resp code="200">SUCCESS_OK</resp><data></data></rpl></xccos>"#;
        let expected = Envelope::new(6982, ok_reply((1, 548905156), ReplyData::GetInv(vec![])));
        assert_eq!(parse(captured), expected);
        assert_eq!(
            expected.to_xml(),
            captured.replace("<data></data>", "<data/>")
        );
    }

    #[test]
    fn cmd_chansrch() {
        assert_client_command(
            r#"<xccos ver="1" envid="548905157" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:chansrch" seqid="1"><data><qib qtype="BYNAME" criteria="" extended="false"/></data></cmd></xccos>"#,
            CommandKind::ChanSrch(Qib {
                qtype: "BYNAME".into(),
                criteria: String::new(),
                extended: false,
            }),
        );
    }

    #[test]
    fn rpl_chansrch() {
        let captured = r#"<xccos ver="1" envid="6983" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:chansrch" seqid="1"><commandid seqid="1" envid="548905157"/><resp code="200">SUCCESS_OK</resp><data><chanib name="Lobby" description="General discussion" uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01"><info id="urn:parlano:ma:info:ucnt">2</info><info id="urn:parlano:ma:info:visibilty">public</info><prop id="urn:parlano:ma:prop:invite">false</prop><prop id="urn:parlano:ma:prop:logged">true</prop><prop id="urn:parlano:ma:prop:filepost">false</prop></chanib><chanib name="Engineering" description="Build &amp; release" uri="ma-chan://example.test/9c0e5a77-31d2-4c1e-8f0b-6d2e8a4b5c02"><info id="urn:parlano:ma:info:ucnt">1</info><info id="urn:parlano:ma:info:visibilty">private</info><prop id="urn:parlano:ma:prop:invite">true</prop><prop id="urn:parlano:ma:prop:logged">true</prop><prop id="urn:parlano:ma:prop:filepost">false</prop></chanib></data></rpl></xccos>"#;
        let room =
            |uri: &str, name: &str, description: &str, count, visibility: &str, invite| Chanib {
                name: Some(name.into()),
                description: Some(description.into()),
                user_count: Some(count),
                visibility: Some(visibility.into()),
                file_post: Some(false),
                invite: Some(invite),
                logged: Some(true),
                ..Chanib::new(uri)
            };
        let expected = Envelope::new(
            6983,
            ok_reply(
                (1, 548905157),
                ReplyData::ChanSrch(vec![
                    room(LOBBY, "Lobby", "General discussion", 2, "public", false),
                    room(
                        ENGINEERING,
                        "Engineering",
                        "Build & release",
                        1,
                        "private",
                        true,
                    ),
                ]),
            ),
        );
        assert_eq!(parse(captured), expected);
        assert_eq!(
            expected.to_xml(),
            concat!(
                r#"<xccos ver="1" envid="6983" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:chansrch" seqid="1"><commandid seqid="1" envid="548905157"/><resp code="200">SUCCESS_OK</resp><data>"#,
                r#"<chanib uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" name="Lobby" description="General discussion"><info id="urn:parlano:ma:info:ucnt">2</info><info id="urn:parlano:ma:info:visibilty">public</info><prop id="urn:parlano:ma:prop:filepost">false</prop><prop id="urn:parlano:ma:prop:invite">false</prop><prop id="urn:parlano:ma:prop:logged">true</prop></chanib>"#,
                r#"<chanib uri="ma-chan://example.test/9c0e5a77-31d2-4c1e-8f0b-6d2e8a4b5c02" name="Engineering" description="Build &amp; release"><info id="urn:parlano:ma:info:ucnt">1</info><info id="urn:parlano:ma:info:visibilty">private</info><prop id="urn:parlano:ma:prop:filepost">false</prop><prop id="urn:parlano:ma:prop:invite">true</prop><prop id="urn:parlano:ma:prop:logged">true</prop></chanib>"#,
                r#"</data></rpl></xccos>"#
            )
        );
    }

    #[test]
    fn cmd_join() {
        assert_client_command(
            r#"<xccos ver="1" envid="548905158" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:join" seqid="1"><data><chanid key="0" domain="example.test" value="2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01"/></data></cmd></xccos>"#,
            CommandKind::Join(chanid(0, LOBBY)),
        );
    }

    fn lobby_join_data() -> JoinData {
        JoinData {
            chanibs: vec![Chanib {
                name: Some("Lobby".into()),
                description: Some("General discussion".into()),
                topic: Some("Welcome to the lobby".into()),
                aibs: vec![
                    Aib::users(AIB_KEY_MEMBER, [1, 2, 3]),
                    Aib::users(AIB_KEY_MANAGER, [2]),
                ],
                ..Chanib::new(LOBBY)
            }],
            uibs: vec![
                uib(1, "sip:alice@example.test"),
                uib(2, "sip:bob@example.test"),
                uib(3, "sip:carol@example.test"),
            ],
            fibs: vec![],
        }
    }

    #[test]
    fn rpl_join_with_roster_first() {
        let captured = r#"<xccos ver="1" envid="6984" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:join" seqid="1"><commandid seqid="1" envid="548905158"/><resp code="200">SUCCESS_OK</resp><data><uib id="1" uri="sip:alice@example.test"/><uib id="2" uri="sip:bob@example.test"/><uib id="3" uri="sip:carol@example.test"/><chanib name="Lobby" description="General discussion" uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" topic="Welcome to the lobby"><aib key="3984" value="1,2,3"/><aib key="12276" value="2"/></chanib></data></rpl></xccos>"#;
        let expected = Envelope::new(
            6984,
            ok_reply((1, 548905158), ReplyData::Join(lobby_join_data())),
        );
        assert_eq!(parse(captured), expected);
        assert_eq!(
            expected.to_xml(),
            r#"<xccos ver="1" envid="6984" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:join" seqid="1"><commandid seqid="1" envid="548905158"/><resp code="200">SUCCESS_OK</resp><data><chanib uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" name="Lobby" description="General discussion" topic="Welcome to the lobby"><aib key="3984" value="1,2,3"/><aib key="12276" value="2"/></chanib><uib id="1" uri="sip:alice@example.test"/><uib id="2" uri="sip:bob@example.test"/><uib id="3" uri="sip:carol@example.test"/></data></rpl></xccos>"#
        );
    }

    #[test]
    fn cmd_bccontext() {
        assert_client_command(
            r#"<xccos ver="1" envid="548905159" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:bccontext" seqid="1"><data><chanib uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01"/><bcq><last cnt="25"/></bcq></data></cmd></xccos>"#,
            CommandKind::BcContext {
                channel_uri: LOBBY.into(),
                query: Bcq::Last { cnt: 25 },
            },
        );
    }

    #[test]
    fn rpl_bccontext() {
        assert_server_body(
            Envelope::new(
                6985,
                ok_reply(
                    (1, 548905159),
                    ReplyData::BcContext(vec![Chanib {
                        msgs: vec![
                            chat(
                                LOBBY,
                                "sip:bob@example.test",
                                "2024-05-01T09:00:00Z",
                                "first history line",
                            ),
                            chat(
                                LOBBY,
                                "sip:carol@example.test",
                                "2024-05-01T09:01:30Z",
                                "second history line <with> & \"markup\"",
                            ),
                        ],
                        ..Chanib::new(LOBBY)
                    }]),
                ),
            ),
            r#"<xccos ver="1" envid="6985" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:bccontext" seqid="1"><commandid seqid="1" envid="548905159"/><resp code="200">SUCCESS_OK</resp><data><chanib uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01"><msg id="grpchat" chanUri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" author="sip:bob@example.test" ts="2024-05-01T09:00:00Z"><chat>first history line</chat></msg><msg id="grpchat" chanUri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" author="sip:carol@example.test" ts="2024-05-01T09:01:30Z"><chat>second history line &lt;with&gt; &amp; "markup"</chat></msg></chanib></data></rpl></xccos>"#,
        );
    }

    #[test]
    fn grpchat_from_client() {
        let xml = r#"<xccos ver="1" envid="548905160" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" author="sip:alice@example.test" ts="2026-11-23T14:07:20Z"><chat>Hello &lt;world&gt; &amp; friends</chat></grpchat></xccos>"#;
        let envelope = parse(xml);
        assert_eq!(
            envelope.messages,
            vec![Message::GrpChat(GrpChat {
                seqid: 1,
                message: chat(
                    LOBBY,
                    "sip:alice@example.test",
                    "2026-11-23T14:07:20Z",
                    "Hello <world> & friends"
                ),
            })]
        );
        assert_eq!(envelope.to_xml(), xml);
    }

    #[test]
    fn grpchat_from_server() {
        for (envid, author, ts, text, xml) in [
            (
                6986,
                "sip:alice@example.test",
                "2026-11-23T14:07:20.826937Z",
                "Hello <world> & friends",
                r#"<xccos ver="1" envid="6986" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" author="sip:alice@example.test" ts="2026-11-23T14:07:20.826937Z"><chat>Hello &lt;world&gt; &amp; friends</chat></grpchat></xccos>"#,
            ),
            (
                6987,
                "sip:bob@example.test",
                "2026-11-23T14:07:21.027844Z",
                "echo: Hello <world> & friends",
                r#"<xccos ver="1" envid="6987" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" author="sip:bob@example.test" ts="2026-11-23T14:07:21.027844Z"><chat>echo: Hello &lt;world&gt; &amp; friends</chat></grpchat></xccos>"#,
            ),
        ] {
            let value = GrpChat {
                seqid: 1,
                message: chat(LOBBY, author, ts, text),
            };
            assert_server_body(Envelope::new(envid, value), xml);
        }
    }

    #[test]
    fn cmd_part() {
        assert_client_command(
            r#"<xccos ver="1" envid="548905161" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:part" seqid="1"><data><chanib uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01"/></data></cmd></xccos>"#,
            CommandKind::Part {
                channel_uri: LOBBY.into(),
            },
        );
    }

    #[test]
    fn rpl_part() {
        assert_server_body(
            Envelope::new(
                6988,
                ok_reply((1, 548905161), ReplyData::Part(vec![Chanib::new(LOBBY)])),
            ),
            r#"<xccos ver="1" envid="6988" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:part" seqid="1"><commandid seqid="1" envid="548905161"/><resp code="200">SUCCESS_OK</resp><data><chanib uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01"/></data></rpl></xccos>"#,
        );
    }

    #[test]
    fn cmd_bjoin() {
        assert_client_command(
            r#"<xccos ver="1" envid="181291304" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:bjoin" seqid="1"><data><chanid key="0" domain="example.test" value="2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01"/></data></cmd></xccos>"#,
            CommandKind::BJoin(vec![chanid(0, LOBBY)]),
        );
    }

    #[test]
    fn rpl_bjoin() {
        let captured = r#"<xccos ver="1" envid="3698" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:bjoin" seqid="1"><commandid seqid="1" envid="181291304"/><resp code="200">SUCCESS_OK</resp><data><uib id="1" uri="sip:alice@example.test"/><uib id="2" uri="sip:bob@example.test"/><uib id="3" uri="sip:carol@example.test"/><chanib name="Lobby" description="General discussion" uri="ma-chan://example.test/2b1f0d5e-0c5f-4a57-9b37-1f3c0f1e7a01" topic="Welcome to the lobby"><aib key="3984" value="1,2,3"/><aib key="12276" value="2"/></chanib></data></rpl></xccos>"#;
        assert_eq!(
            parse(captured),
            Envelope::new(
                3698,
                ok_reply((1, 181291304), ReplyData::BJoin(lobby_join_data()))
            )
        );
    }
}

mod reference {
    use super::*;

    #[test]
    fn rpl_getftok_captured_from_a_real_server() {
        let captured = r#"<xccos xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ver="1" envid="7962449779256945056" xmlns="urn:parlano:xml:ns:xccos">
  <rpl id="rpl:getftok" seqid="1">
    <commandid seqid="1" envid="139132352" />
    <resp code="200">SUCCESS_OK</resp>
    <data>
      <token token="effab007-2465-45c5-b62f-04e1689cdd10" serveruri="https://lync-server.lync.nextlabs.solutions/PersistentChat/MGCWebService.asmx" />
    </data>
  </rpl>
</xccos>"#;
        let expected = Envelope::new(
            7962449779256945056,
            ok_reply(
                (1, 139132352),
                ReplyData::GetFTok(Some(Token {
                    token: "effab007-2465-45c5-b62f-04e1689cdd10".into(),
                    server_uri:
                        "https://lync-server.lync.nextlabs.solutions/PersistentChat/MGCWebService.asmx"
                            .into(),
                })),
            ),
        );
        assert_eq!(parse(captured), expected);
        assert_eq!(
            expected.to_xml(),
            r#"<xccos ver="1" envid="7962449779256945056" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getftok" seqid="1"><commandid seqid="1" envid="139132352"/><resp code="200">SUCCESS_OK</resp><data><token token="effab007-2465-45c5-b62f-04e1689cdd10" serveruri="https://lync-server.lync.nextlabs.solutions/PersistentChat/MGCWebService.asmx"/></data></rpl></xccos>"#
        );
    }

    #[test]
    fn cmd_getfutok_and_getfdtok_captured_from_a_real_client() {
        for (id, file, make) in [
            (
                "cmd:getfutok",
                "TestInfoRecord.txt",
                CommandKind::GetFuTok as fn(Ftdb) -> CommandKind,
            ),
            (
                "cmd:getfdtok",
                "TestInfoRecord-Copy.txt",
                CommandKind::GetFdTok as fn(Ftdb) -> CommandKind,
            ),
        ] {
            let captured = format!(
                r#"<xccos xmlns="urn:parlano:xml:ns:xccos" ver="1" envid="139132350">
  <cmd id="{id}" seqid="1">
    <data><ftdb channelUri="ma-chan://lync.nextlabs.solutions/094f5a4a-c492-4f6b-91c2-385eba134fd3" fileUrl="{file}"/></data>
  </cmd>
</xccos>"#
            );
            let kind = make(Ftdb {
                channel_uri:
                    "ma-chan://lync.nextlabs.solutions/094f5a4a-c492-4f6b-91c2-385eba134fd3".into(),
                file_url: file.into(),
            });
            assert_eq!(command(&captured), Command { seqid: 1, kind });
        }
    }

    #[test]
    fn cmd_getserverinfo_and_its_reply() {
        assert_client_command(
            r#"<xccos ver="1" envid="1" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:getserverinfo" seqid="1"><data><sib domain="example.com" infoType="123"/></data></cmd></xccos>"#,
            CommandKind::GetServerInfo(Some(Sib {
                domain: Some("example.com".into()),
                info_type: Some("123".into()),
                ..Sib::default()
            })),
        );
        let sib = Sib {
            info_type: Some("123".into()),
            server_time: Some("2010-09-14T14:26:17.6206356Z".into()),
            search_limit: Some(999),
            message_size_limit: Some(512),
            story_size_limit: Some(4096),
            root_uri: Some("ma-cat://example.com/5e5f3c1a-7d5b-4d8e-9a57-0c1d2e3f4a5b".into()),
            db_version: Some("3ea3a5a8-ef36-46cf-898f-7a5133931d63".into()),
            ..Sib::default()
        };
        assert_server_body(
            Envelope::new(
                2,
                ok_reply((1, 1), ReplyData::GetServerInfo(Some(sib.clone()))),
            ),
            r#"<xccos ver="1" envid="2" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getservinfo" seqid="1"><commandid seqid="1" envid="1"/><resp code="200">SUCCESS_OK</resp><data><sib infoType="123" serverTime="2010-09-14T14:26:17.6206356Z" searchLimit="999" messageSizeLimit="512" storySizeLimit="4096" rootUri="ma-cat://example.com/5e5f3c1a-7d5b-4d8e-9a57-0c1d2e3f4a5b" dbVersion="3ea3a5a8-ef36-46cf-898f-7a5133931d63"/></data></rpl></xccos>"#,
        );
        let other_spelling = reply(
            r#"<xccos ver="1" envid="2" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getserverinfo" seqid="1"><resp code="200">SUCCESS_OK</resp><data><sib infoType="123" serverTime="2010-09-14T14:26:17.6206356Z" searchLimit="999" messageSizeLimit="512" storySizeLimit="4096" rootUri="ma-cat://example.com/5e5f3c1a-7d5b-4d8e-9a57-0c1d2e3f4a5b" dbVersion="3ea3a5a8-ef36-46cf-898f-7a5133931d63"/></data></rpl></xccos>"#,
        );
        assert_eq!(other_spelling.data, ReplyData::GetServerInfo(Some(sib)));
        assert_eq!(
            ReplyData::GetServerInfo(None).id(),
            shapes::REPLY_ID_GETSERVERINFO
        );
    }

    #[test]
    fn room_management_url_travels_in_sib() {
        let sib = Sib {
            room_management_url: Some("https://chat.example.com/rooms?a=1&b=2".into()),
            ..Sib::default()
        };
        assert_server_body(
            Envelope::new(3, ok_reply((1, 1), ReplyData::GetServerInfo(Some(sib)))),
            r#"<xccos ver="1" envid="3" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getservinfo" seqid="1"><commandid seqid="1" envid="1"/><resp code="200">SUCCESS_OK</resp><data><sib roomManagementUrl="https://chat.example.com/rooms?a=1&amp;b=2"/></data></rpl></xccos>"#,
        );
    }

    #[test]
    fn cmd_bjoin_of_two_rooms() {
        let body = r#"<xccos ver="1" envid="5" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:bjoin" seqid="1"><data>
  <chanid key="0" domain="example.com" value="GUID-A"/>
  <chanid key="1" domain="example.com" value="GUID-B"/>
</data></cmd></xccos>"#;
        assert_eq!(
            command(body).kind,
            CommandKind::BJoin(vec![
                chanid(0, "ma-chan://example.com/GUID-A"),
                chanid(1, "ma-chan://example.com/GUID-B"),
            ])
        );
    }

    #[test]
    fn rpl_bjoin_with_a_failed_room() {
        let data = JoinData {
            chanibs: vec![Chanib {
                name: Some("Room A".into()),
                aibs: vec![Aib::users(AIB_KEY_MEMBER, [0])],
                ..Chanib::new("ma-chan://example.com/GUID-A")
            }],
            uibs: vec![uib(0, "sip:alice@example.com")],
            fibs: vec![Fib::failed(&chanid(1, "ma-chan://example.com/GUID-B"))],
        };
        assert_server_body(
            Envelope::new(6, ok_reply((1, 5), ReplyData::BJoin(data))),
            r#"<xccos ver="1" envid="6" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:bjoin" seqid="1"><commandid seqid="1" envid="5"/><resp code="200">SUCCESS_OK</resp><data><chanib uri="ma-chan://example.com/GUID-A" name="Room A"><aib key="3984" value="0"/></chanib><uib id="0" uri="sip:alice@example.com"/><fib key="OPERATION_FAILED" value="GUID-B" domain="example.com"/></data></rpl></xccos>"#,
        );
    }

    #[test]
    fn ntc_join_and_bjoin() {
        let carol = Uib {
            aibs: vec![Aib::room(
                AIB_KEY_MEMBER,
                &chanid(0, "ma-chan://example.com/GUID-A"),
            )],
            ..Uib::new("sip:carol@example.com")
        };
        assert_server_body(
            Envelope::new(8, Notice::Join(vec![carol.clone()])),
            r#"<xccos ver="1" envid="8" xmlns="urn:parlano:xml:ns:xccos"><ntc id="ntc:join"><data><uib uri="sip:carol@example.com"><aib key="3984" domain="example.com" value="GUID-A"/></uib></data></ntc></xccos>"#,
        );
        assert_server_body(
            Envelope::new(9, Notice::BJoin(vec![carol])),
            r#"<xccos ver="1" envid="9" xmlns="urn:parlano:xml:ns:xccos"><ntc id="ntc:bjoin"><data><uib uri="sip:carol@example.com"><aib key="3984" domain="example.com" value="GUID-A"/></uib></data></ntc></xccos>"#,
        );
    }

    #[test]
    fn ntc_part() {
        assert_server_body(
            Envelope::new(
                10,
                Notice::Part(vec![Chanib {
                    uibs: vec![Uib::new("sip:carol@example.com")],
                    ..Chanib::new("ma-chan://example.com/GUID-A")
                }]),
            ),
            r#"<xccos ver="1" envid="10" xmlns="urn:parlano:xml:ns:xccos"><ntc id="ntc:part"><data><chanib uri="ma-chan://example.com/GUID-A"><uib uri="sip:carol@example.com"/></chanib></data></ntc></xccos>"#,
        );
    }

    /// Parlance's own notice of a room's new properties: a chansrch listing with the topic.
    #[test]
    fn ntc_chanupd() {
        assert_server_body(
            Envelope::new(
                11,
                Notice::ChanUpd(vec![Chanib {
                    name: Some("Room A".into()),
                    topic: Some("<b>new</b>".into()),
                    ..Chanib::new("ma-chan://example.com/GUID-A")
                }]),
            ),
            r#"<xccos ver="1" envid="11" xmlns="urn:parlano:xml:ns:xccos"><ntc id="ntc:chanupd"><data><chanib uri="ma-chan://example.com/GUID-A" name="Room A" topic="&lt;b&gt;new&lt;/b&gt;"/></data></ntc></xccos>"#,
        );
    }

    #[test]
    fn cmd_getpref_and_setpref() {
        assert_client_command(
            r#"<xccos ver="1" envid="11" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:getpref" seqid="1"><data><pref label="kedzie.GroupChannels" seqid="71" createdefault="true"/></data></cmd></xccos>"#,
            CommandKind::GetPref(Pref {
                label: "kedzie.GroupChannels".into(),
                seqid: 71,
                create_default: Some(true),
                content: None,
            }),
        );
        assert_client_command(
            r#"<xccos ver="1" envid="12" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:setpref" seqid="1"><data><pref label="kedzie.GroupChannels" seqid="71" createdefault="false" content="PGNoYW5zPjwvY2hhbnM+"/></data></cmd></xccos>"#,
            CommandKind::SetPref(Pref {
                label: "kedzie.GroupChannels".into(),
                seqid: 71,
                create_default: Some(false),
                content: Some("PGNoYW5zPjwvY2hhbnM+".into()),
            }),
        );
    }

    #[test]
    fn rpl_getpref_and_setpref_echo_the_pref() {
        let pref = Pref {
            label: "kedzie.GroupChannels".into(),
            seqid: 72,
            create_default: None,
            content: Some("PGNoYW5zPjwvY2hhbnM+".into()),
        };
        assert_server_body(
            Envelope::new(
                13,
                ok_reply((1, 11), ReplyData::GetPref(Some(pref.clone()))),
            ),
            r#"<xccos ver="1" envid="13" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getpref" seqid="1"><commandid seqid="1" envid="11"/><resp code="200">SUCCESS_OK</resp><data><pref label="kedzie.GroupChannels" seqid="72" content="PGNoYW5zPjwvY2hhbnM+"/></data></rpl></xccos>"#,
        );
        assert_server_body(
            Envelope::new(
                14,
                ok_reply(
                    (1, 12),
                    ReplyData::SetPref(Some(Pref {
                        content: None,
                        ..pref
                    })),
                ),
            ),
            r#"<xccos ver="1" envid="14" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:setpref" seqid="1"><commandid seqid="1" envid="12"/><resp code="200">SUCCESS_OK</resp><data><pref label="kedzie.GroupChannels" seqid="72"/></data></rpl></xccos>"#,
        );
    }

    /// An invitation to the room Ops.
    fn ops_invitation(invite_id: u64) -> Inv {
        Inv {
            invite_id,
            domain: Some("example.com".into()),
            ts: Some("2024-01-01T10:00:00.0000000Z".into()),
            chanib: Some(Chanib {
                name: Some("Ops".into()),
                ..Chanib::new(OPS)
            }),
        }
    }

    #[test]
    fn rpl_getinv_with_an_invitation() {
        assert_server_body(
            Envelope::new(
                15,
                ok_reply((1, 16), ReplyData::GetInv(vec![ops_invitation(4)])),
            ),
            r#"<xccos ver="1" envid="15" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getinv" seqid="1"><commandid seqid="1" envid="16"/><resp code="200">SUCCESS_OK</resp><data><inv inviteId="4" domain="example.com" ts="2024-01-01T10:00:00.0000000Z"><chanib uri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e" name="Ops"/></inv></data></rpl></xccos>"#,
        );
    }

    /// Parlance's own notice of an invitation made while the invitee was connected: the
    /// invitation as `rpl:getinv` lists it.
    #[test]
    fn ntc_inv() {
        assert_server_body(
            Envelope::new(17, Notice::Inv(vec![ops_invitation(5)])),
            r#"<xccos ver="1" envid="17" xmlns="urn:parlano:xml:ns:xccos"><ntc id="ntc:inv"><data><inv inviteId="5" domain="example.com" ts="2024-01-01T10:00:00.0000000Z"><chanib uri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e" name="Ops"/></inv></data></ntc></xccos>"#,
        );
    }

    #[test]
    fn cmd_and_rpl_nodespermcreatechild() {
        assert_client_command(
            r#"<xccos ver="1" envid="17" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:nodespermcreatechild" seqid="1"><data/></cmd></xccos>"#,
            CommandKind::NodesPermCreateChild,
        );
        assert_server_body(
            Envelope::new(
                18,
                ok_reply((1, 17), ReplyData::NodesPermCreateChild(vec![])),
            ),
            r#"<xccos ver="1" envid="18" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:nodespermcreatechild" seqid="1"><commandid seqid="1" envid="17"/><resp code="200">SUCCESS_OK</resp><data/></rpl></xccos>"#,
        );
        assert_server_body(
            Envelope::new(
                19,
                ok_reply(
                    (1, 17),
                    ReplyData::NodesPermCreateChild(vec!["ma-cat://example.com/c1".into()]),
                ),
            ),
            r#"<xccos ver="1" envid="19" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:nodespermcreatechild" seqid="1"><commandid seqid="1" envid="17"/><resp code="200">SUCCESS_OK</resp><data><catib uri="ma-cat://example.com/c1"/></data></rpl></xccos>"#,
        );
    }

    #[test]
    fn grpchat_carries_crlf_and_escapes() {
        let body = "<xccos ver=\"1\" envid=\"20\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://example.com/GUID-A\" author=\"sip:alice@example.com\" ts=\"2013-08-03T09:16:40Z\"><chat>line 1\r\nline 2 &lt;escaped&gt;</chat></grpchat></xccos>";
        let Message::GrpChat(grpchat) = only(body) else {
            panic!("expected grpchat")
        };
        assert_eq!(grpchat.message.text, "line 1\nline 2 <escaped>");
    }

    #[test]
    fn history_queries_we_accept() {
        for (form, query) in [
            (r#"<last cnt="25"/>"#, Bcq::Last { cnt: 25 }),
            (
                r#"<before id="1042" cnt="50"/>"#,
                Bcq::Before { id: 1042, cnt: 50 },
            ),
            (
                r#"<after id="7" cnt="100"/>"#,
                Bcq::After { id: 7, cnt: 100 },
            ),
            (
                r#"<search text="deploy &amp; release" cnt="20"/>"#,
                Bcq::Search {
                    text: "deploy & release".into(),
                    cnt: 20,
                },
            ),
        ] {
            let body = format!(
                r#"<xccos ver="1" envid="21" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:bccontext" seqid="1"><data><chanib uri="{OPS}"/><bcq>{form}</bcq></data></cmd></xccos>"#
            );
            assert_client_command(
                &body,
                CommandKind::BcContext {
                    channel_uri: OPS.into(),
                    query,
                },
            );
        }
    }

    #[test]
    fn history_entries_carry_the_message_id() {
        let message = ChatMessage {
            message_id: Some(42),
            ..chat(
                OPS,
                "sip:bob@example.com",
                "2013-08-03T09:15:02.1234567Z",
                "older text",
            )
        };
        assert_server_body(
            Envelope::new(
                22,
                ok_reply(
                    (1, 21),
                    ReplyData::BcContext(vec![Chanib {
                        msgs: vec![message],
                        ..Chanib::new(OPS)
                    }]),
                ),
            ),
            r#"<xccos ver="1" envid="22" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:bccontext" seqid="1"><commandid seqid="1" envid="21"/><resp code="200">SUCCESS_OK</resp><data><chanib uri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e"><msg id="grpchat" chanUri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e" author="sip:bob@example.com" ts="2013-08-03T09:15:02.1234567Z" msgid="42"><chat>older text</chat></msg></chanib></data></rpl></xccos>"#,
        );
    }

    #[test]
    fn history_skips_entries_that_are_not_chat() {
        let r = reply(&format!(
            r#"<xccos ver="1" envid="23" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:bccontext" seqid="1"><resp code="200">SUCCESS_OK</resp><data><chanib uri="{OPS}"><msg id="other" chanUri="{OPS}" author="sip:x@example.com"/><msg id="grpchat" chanUri="{OPS}" author="sip:bob@example.com"><chat>kept</chat></msg></chanib></data></rpl></xccos>"#
        ));
        let ReplyData::BcContext(chanibs) = r.data else {
            panic!("expected rpl:bccontext")
        };
        assert_eq!(chanibs[0].msgs.len(), 1);
        assert_eq!(chanibs[0].msgs[0].text, "kept");
    }

    #[test]
    fn error_replies_carry_the_code_table_and_an_empty_payload() {
        let join = Command {
            seqid: 1,
            kind: CommandKind::Join(chanid(0, OPS)),
        };
        assert_server_body(
            Envelope::new(
                24,
                Reply::failure(&join, 1804289385, ResponseCode::Permission),
            ),
            r#"<xccos ver="1" envid="24" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:join" seqid="1"><commandid seqid="1" envid="1804289385"/><resp code="403">ERR_PERMISSION</resp><data/></rpl></xccos>"#,
        );
        let unknown = command(
            r#"<xccos ver="1" envid="25" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:gethiddenlist" seqid="3"><data><x/></data></cmd></xccos>"#,
        );
        assert_eq!(
            unknown,
            Command {
                seqid: 3,
                kind: CommandKind::Unknown {
                    id: "cmd:gethiddenlist".into()
                }
            }
        );
        assert_server_body(
            Envelope::new(
                26,
                Reply::failure(&unknown, 25, ResponseCode::MsgNotSupported),
            ),
            r#"<xccos ver="1" envid="26" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:gethiddenlist" seqid="3"><commandid seqid="3" envid="25"/><resp code="501">ERR_MSG_NOT_SUPPORTED</resp><data/></rpl></xccos>"#,
        );
        let custom = Resp {
            code: 599,
            text: "SOMETHING_NEW".into(),
        };
        assert_eq!(custom.response_code(), None);
        assert!(!custom.is_success());
    }

    /// An RTF copy is an `rtf` child after `chat`, its text escaped like any XML text, and
    /// is written back exactly as read; a message without one has no `rtf` at all.
    #[test]
    fn an_rtf_copy_travels_as_an_rtf_child() {
        let wire = format!(
            r#"<xccos ver="1" envid="40" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="{OPS}" author="sip:alice@example.com" ts="2024-01-01T10:00:00Z"><chat>bold &amp; more</chat><rtf>{{\rtf1\ansi \b bold\b0  &amp; &lt;more&gt;}}</rtf></grpchat></xccos>"#
        );
        let posted = command_grpchat(&wire);
        assert_eq!(
            posted.message.rtf.as_deref(),
            Some(r"{\rtf1\ansi \b bold\b0  & <more>}")
        );
        assert_eq!(posted.message.text, "bold & more");
        assert_server_body(Envelope::new(40, posted.clone()), &wire);
        let plain = ChatMessage {
            rtf: None,
            ..posted.message.clone()
        };
        assert_eq!(
            posted.message.history_len(),
            plain.history_len() + r"<rtf>{\rtf1\ansi \b bold\b0  &amp; &lt;more&gt;}</rtf>".len(),
            "the copy counts in the size of what goes out"
        );
    }

    /// An alert carries `alert="true"` on `grpchat` and history `msg` alike; an ordinary
    /// message carries no attribute, and `alert="false"` reads as ordinary.
    #[test]
    fn alerts_carry_the_alert_attribute() {
        let posted = command_grpchat(&format!(
            r#"<xccos ver="1" envid="40" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="{OPS}" author="sip:alice@example.com" ts="2024-01-01T10:00:00Z" alert="True"><chat>fire drill</chat></grpchat></xccos>"#
        ));
        assert!(posted.message.alert);
        assert_server_body(
            Envelope::new(41, posted.clone()),
            &format!(
                r#"<xccos ver="1" envid="41" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="{OPS}" author="sip:alice@example.com" ts="2024-01-01T10:00:00Z" alert="true"><chat>fire drill</chat></grpchat></xccos>"#
            ),
        );
        let calm = command_grpchat(&format!(
            r#"<xccos ver="1" envid="42" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="{OPS}" author="sip:alice@example.com" ts="2024-01-01T10:00:00Z" alert="false"><chat>calm</chat></grpchat></xccos>"#
        ));
        assert!(!calm.message.alert);
        let plain = chat(OPS, "sip:bob@example.com", "2024-01-01T10:00:00Z", "calm");
        let alert = ChatMessage {
            alert: true,
            ..plain.clone()
        };
        assert_eq!(
            alert.history_len(),
            plain.history_len() + r#" alert="true""#.len()
        );
    }

    /// `cmd:getassoc` (Parlance's shape: no data read) and its `rpl:getassoc`, a room list.
    #[test]
    fn getassoc_and_its_room_list() {
        let asked = command(
            r#"<xccos ver="1" envid="30" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:getassoc" seqid="1"><data/></cmd></xccos>"#,
        );
        assert_eq!(asked.kind, CommandKind::GetAssoc);
        let listed = Chanib {
            name: Some("Ops".into()),
            ..Chanib::new(OPS)
        };
        assert_server_body(
            Envelope::new(31, ok_reply((1, 30), ReplyData::GetAssoc(vec![listed]))),
            &format!(
                r#"<xccos ver="1" envid="31" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getassoc" seqid="1"><commandid seqid="1" envid="30"/><resp code="200">SUCCESS_OK</resp><data><chanib uri="{OPS}" name="Ops"/></data></rpl></xccos>"#
            ),
        );
    }

    #[test]
    fn several_replies_in_one_envelope_keep_their_order() {
        let first = ok_reply((1, 1), ReplyData::GetInv(vec![]));
        let second = ok_reply((2, 2), ReplyData::ChanSrch(vec![]));
        let envelope = Envelope {
            envid: 27,
            messages: vec![first.into(), second.into()],
        };
        assert_server_body(
            envelope,
            r#"<xccos ver="1" envid="27" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:getinv" seqid="1"><commandid seqid="1" envid="1"/><resp code="200">SUCCESS_OK</resp><data/></rpl><rpl id="rpl:chansrch" seqid="2"><commandid seqid="2" envid="2"/><resp code="200">SUCCESS_OK</resp><data/></rpl></xccos>"#,
        );
    }
}

mod appendix_b {
    use super::*;

    #[test]
    fn complete_constructed_exchange() {
        assert_client_command(
            r#"<xccos ver="1" envid="1804289385" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:join" seqid="1"><data><chanid key="0" domain="example.com" value="0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e"/></data></cmd></xccos>"#,
            CommandKind::Join(chanid(0, OPS)),
        );

        let join_reply = Envelope::new(
            900000000000000001,
            ok_reply(
                (1, 1804289385),
                ReplyData::Join(JoinData {
                    chanibs: vec![Chanib {
                        name: Some("Ops".into()),
                        description: Some("Operations".into()),
                        topic: Some("Ops room".into()),
                        aibs: vec![
                            Aib::users(AIB_KEY_MEMBER, [0]),
                            Aib::users(AIB_KEY_MANAGER, [1]),
                        ],
                        ..Chanib::new(OPS)
                    }],
                    uibs: vec![
                        uib(0, "sip:alice@example.com"),
                        uib(1, "sip:bob@example.com"),
                    ],
                    fibs: vec![],
                }),
            ),
        );
        let pretty = r#"<xccos ver="1" envid="900000000000000001" xmlns="urn:parlano:xml:ns:xccos">
       <rpl id="rpl:join" seqid="1"><commandid seqid="1" envid="1804289385"/><resp code="200">SUCCESS_OK</resp>
         <data>
           <chanib uri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e" name="Ops" description="Operations" topic="Ops room">
             <aib key="3984" value="0"/><aib key="12276" value="1"/>
           </chanib>
           <uib id="0" uri="sip:alice@example.com"/><uib id="1" uri="sip:bob@example.com"/>
         </data></rpl></xccos>"#;
        assert_eq!(parse(pretty), join_reply);
        assert_server_body(
            join_reply,
            r#"<xccos ver="1" envid="900000000000000001" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:join" seqid="1"><commandid seqid="1" envid="1804289385"/><resp code="200">SUCCESS_OK</resp><data><chanib uri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e" name="Ops" description="Operations" topic="Ops room"><aib key="3984" value="0"/><aib key="12276" value="1"/></chanib><uib id="0" uri="sip:alice@example.com"/><uib id="1" uri="sip:bob@example.com"/></data></rpl></xccos>"#,
        );

        assert_server_body(
            Envelope::new(
                900000000000000002,
                Notice::Join(vec![Uib {
                    aibs: vec![Aib::room(AIB_KEY_MEMBER, &chanid(0, OPS))],
                    ..Uib::new("sip:alice@example.com")
                }]),
            ),
            r#"<xccos ver="1" envid="900000000000000002" xmlns="urn:parlano:xml:ns:xccos"><ntc id="ntc:join"><data><uib uri="sip:alice@example.com"><aib key="3984" domain="example.com" value="0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e"/></uib></data></ntc></xccos>"#,
        );

        assert_client_command(
            r#"<xccos ver="1" envid="1804289386" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:bccontext" seqid="1"><data><chanib uri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e"/><bcq><last cnt="25"/></bcq></data></cmd></xccos>"#,
            CommandKind::BcContext {
                channel_uri: OPS.into(),
                query: Bcq::Last { cnt: 25 },
            },
        );

        let posted = GrpChat {
            seqid: 1,
            message: chat(
                OPS,
                "sip:alice@example.com",
                "2024-01-01T10:00:00Z",
                "hello",
            ),
        };
        let client = r#"<xccos ver="1" envid="1804289387" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e" author="sip:alice@example.com" ts="2024-01-01T10:00:00Z"><chat>hello</chat></grpchat></xccos>"#;
        assert_eq!(parse(client), Envelope::new(1804289387, posted.clone()));

        let delivered = GrpChat {
            message: ChatMessage {
                ts: Some(xccos::format_timestamp(1_704_103_200_123_456_700)),
                ..posted.message
            },
            ..posted
        };
        assert_server_body(
            Envelope::new(900000000000000003, delivered),
            r#"<xccos ver="1" envid="900000000000000003" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1" chanUri="ma-chan://example.com/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e" author="sip:alice@example.com" ts="2024-01-01T10:00:00.1234567Z"><chat>hello</chat></grpchat></xccos>"#,
        );
    }
}
