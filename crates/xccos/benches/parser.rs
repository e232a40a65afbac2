//! XCCOS parser and serialiser throughput for the bodies a channel server handles most:
//! a posted message, a join command, and a history reply of 25 messages.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use xccos::{Chanib, ChatMessage, Envelope, Limits, Reply, ReplyData, ResponseCode};

const GRPCHAT: &str = "<xccos ver=\"1\" envid=\"1804289387\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" \
chanUri=\"ma-chan://example.test/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e\" author=\"sip:alice@example.test\" \
ts=\"2024-01-01T10:00:00Z\"><chat>Has anyone seen the deploy logs from last night? &lt;ops&gt; &amp; friends</chat></grpchat></xccos>";

const JOIN: &str = "<xccos ver=\"1\" envid=\"1804289385\" xmlns=\"urn:parlano:xml:ns:xccos\"><cmd id=\"cmd:join\" seqid=\"1\">\
<data><chanid key=\"0\" domain=\"example.test\" value=\"0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e\"/></data></cmd></xccos>";

fn history() -> String {
    let room = "ma-chan://example.test/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e";
    let msgs = (1..=25)
        .map(|i| ChatMessage {
            channel_uri: room.into(),
            author: format!("sip:user{i}@example.test"),
            ts: Some("2024-01-01T10:00:00.1234567Z".into()),
            message_id: Some(i),
            text: format!("message number {i} with some ordinary text in it"),
            alert: false,
            rtf: None,
        })
        .collect();
    let reply = Reply {
        seqid: 1,
        command: None,
        resp: ResponseCode::Ok.into(),
        data: ReplyData::BcContext(vec![Chanib {
            msgs,
            ..Chanib::new(room)
        }]),
    };
    Envelope::new(7, reply).to_xml()
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    for (name, body) in [
        ("grpchat", GRPCHAT.to_owned()),
        ("cmd_join", JOIN.to_owned()),
        ("rpl_bccontext_25", history()),
    ] {
        let mut group = c.benchmark_group(format!("xccos_{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("parse", |b| {
            b.iter(|| Envelope::parse(body.as_bytes(), &limits).unwrap())
        });
        let parsed = Envelope::parse(body.as_bytes(), &limits).unwrap();
        group.bench_function("serialise", |b| b.iter(|| parsed.to_xml()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
