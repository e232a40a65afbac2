//! SIP decoder throughput: messages/s and MB/s for the messages a chat server handles most
//! (a REGISTER, and an XCCOS INFO as sipe sends it), whole and arriving in small reads.

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sip_proto::{Decoder, Item, Limits};

const REGISTER: &str = "REGISTER sip:example.test SIP/2.0\r\n\
Via: SIP/2.0/tcp 127.0.0.1:42884;branch=z9hG4bKA8F3AFC23B8A86C10044\r\n\
From: <sip:alice@example.test>;tag=143179141;epid=b34afb6ebb23\r\n\
To: <sip:alice@example.test>\r\n\
Max-Forwards: 70\r\n\
CSeq: 1 REGISTER\r\n\
User-Agent: Purple/2.14.12 Sipe/1.25.0 (linux-x86_64)\r\n\
Call-ID: 19B5gE306aD95Ci8DCDmD097t09CBb111Cx9A29x\r\n\
Contact: <sip:127.0.0.1:42884;transport=tcp;ms-opaque=d3470f2e1d>;methods=\"INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY\";proxy=replace;+sip.instance=\"<urn:uuid:085e0bd8-031c-5a0d-8d9a-f149aae6954a>\"\r\n\
Supported: gruu-10, adhoclist, msrtc-event-categories, com.microsoft.msrtc.presence\r\n\
Event: registration\r\n\
Allow-Events: presence\r\n\
ms-keep-alive: UAC;hop-hop=yes\r\n\
Content-Length: 0\r\n\r\n";

fn info() -> String {
    let body = "<xccos ver=\"1\" envid=\"1804289387\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" \
        chanUri=\"ma-chan://example.test/0f6a4c2e-8d1b-4b57-9c1e-2f3a4b5c6d7e\" author=\"sip:alice@example.test\" \
        ts=\"2024-01-01T10:00:00Z\"><chat>Has anyone seen the deploy logs from last night?</chat></grpchat></xccos>";
    format!(
        "INFO sip:chatsrv@example.test SIP/2.0\r\nVia: SIP/2.0/tcp 127.0.0.1:42884\r\n\
         From: <sip:alice@example.test>;tag=3129133838;epid=b34afb6ebb23\r\nTo: <sip:chatsrv@example.test>;tag=7b3cdfcd12\r\n\
         Max-Forwards: 70\r\nCSeq: 6 INFO\r\nUser-Agent: Purple/2.14.12 Sipe/1.25.0 (linux-x86_64)\r\n\
         Call-ID: E8F1gF379a83EAiCF3Cm1073tAA8Eb416Fx3FDCx\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Decodes `stream` fed in reads of `chunk` bytes; returns the messages decoded.
fn decode(stream: &[u8], chunk: usize) -> usize {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::with_capacity(4096);
    let mut n = 0;
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Ok(Some(item)) = decoder.decode(&mut buf) {
            assert!(matches!(item, Item::Message(_)));
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    const BATCH: usize = 100;
    for (name, message) in [("register", REGISTER.to_owned()), ("xccos_info", info())] {
        let stream = message.repeat(BATCH).into_bytes();
        let mut group = c.benchmark_group(format!("decode_{name}"));
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function("messages", |b| {
            b.iter(|| assert_eq!(decode(&stream, stream.len()), BATCH))
        });
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_function("bytes_in_1k_reads", |b| {
            b.iter(|| assert_eq!(decode(&stream, 1024), BATCH))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
