#!/usr/bin/env python3
"""Splits a profile of the server (or the relay) into the stages of a delivery.

    perf script -i perf.data | python3 docs/perf/stages.py US_PER_DELIVERY

Each sample goes to the first stage whose rule matches a frame of its stack (the order of
STAGES matters: a TLS encryption inside a `writev` is not possible, but a write inside the
writer task is counted as the kernel's, not the writer's); the table gives each stage's
share of the samples and, multiplied by the CPU per delivery that the bench measured in the
same run (`server_us_per_delivery`), its microseconds per delivery.
"""

import sys

from flamegraph import stacks


def any_of(*names):
    return lambda thread, stack: any(n in stack for n in names)


STAGES = [
    ("store: SQLite (the writer thread, the post's statements)",
     lambda thread, stack: thread.startswith("sqlx-sqlite") or "sqlx" in stack),
    # `writev` while TLS ran on tokio-rustls; a `send` of each record since the unbuffered
    # TLS stream (2026-12-05).
    ("kernel: writev / send (TCP send; on loopback also the receiving side's TCP)",
     any_of("__GI___writev", "do_writev", "__libc_send", "__sys_sendto")),
    ("kernel: read (the answers and posts that arrive)",
     any_of("__libc_recv", "__GI___read", "tcp_recvmsg", "__libc_read", "ksys_read")),
    ("TLS encrypt (rustls, ring AES-256-GCM)",
     any_of("Encrypter", "aes_gcm_enc", "gcm_ghash", "encrypt_outgoing")),
    ("TLS decrypt", any_of("Decrypter", "aes_gcm_dec", "decrypt_incoming")),
    ("answers matched (status line, branch, CSeq)",
     any_of("ResponseMatch", "Dialogs::answered", "take_answer", "Unanswered")),
    ("fan-out: each member's INFO rendered from its dialog's template into its outbox",
     any_of("Sink>::deliver", "template")),
    ("relay: the message handed to every member's queue", any_of("UnboundedSender", "mpsc")),
    ("runtime: park, wake-ups, epoll, timers",
     any_of("park_internal", "epoll_wait", "do_epoll", "futex", "Notify", "notify_", "otified",
            "time::wheel", "clear_entry", "sleep_until", "transition_to", "queue::Local",
            "wake_by", "drop_waker", "finish_task_switch", "poll_readiness",
            "Registration::poll")),
    # "::frame", not "frame": every kernel stack passes `entry_SYSCALL_64_after_hwframe`.
    ("framing and decoding what arrives", any_of("decoder", "Decoder", "::frame")),
    ("rustls buffering and record framing (no cryptography)", any_of("rustls")),
]
OTHER = "the rest (task polling, locks, bookkeeping)"


def main():
    us = float(sys.argv[1])
    counts, total = {}, 0
    for stack in stacks(sys.stdin):
        thread, frames = stack[0], ";".join(stack[1:])
        name = next((n for n, rule in STAGES if rule(thread, frames)), OTHER)
        counts[name] = counts.get(name, 0) + 1
        total += 1
    if total == 0:
        sys.exit("no samples")
    print("| stage | share | µs per delivery |")
    print("|---|---|---|")
    for name in [n for n, _ in STAGES] + [OTHER]:
        n = counts.get(name, 0)
        if n:
            print(f"| {name} | {100 * n / total:.1f} % | {us * n / total:.2f} |")
    print(f"| all ({total} samples) | 100 % | {us:.2f} |")


if __name__ == "__main__":
    main()
