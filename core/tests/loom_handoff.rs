//! loom models of the producer / IO-thread handoff. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p spool-core --release --test loom_handoff`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use spool_core::commit::{CommitConfig, GroupCommit, IoError, LogState};
use spool_core::handoff::{AppendError, Handoff};
use spool_core::record::{Lsn, SegmentId};
use spool_core::segment::{SegmentInfo, SegmentPolicy};
use spool_core::time::Now;

fn handoff() -> Arc<Handoff> {
    let cfg = CommitConfig {
        policy: SegmentPolicy {
            segment_bytes: 1 << 16,
            ..SegmentPolicy::default()
        },
        max_payload: 64,
        max_batch_bytes: 1024,
        max_queued_bytes: 4096,
        disk_full_retry_ns: 1,
    };
    let state = LogState {
        segments: vec![SegmentInfo {
            id: SegmentId(1),
            file_bytes: 1 << 16,
            sealed_at_ns: 0,
            first: Lsn(0),
            last: Lsn(0),
        }],
        active: Some(SegmentId(1)),
        active_end: 32,
        last_lsn: Lsn(0),
        ..LogState::default()
    };
    Arc::new(Handoff::new(
        GroupCommit::new(cfg, state, Now::at(0)),
        false,
        None,
    ))
}

fn io_thread(h: Arc<Handoff>, result: Result<(), IoError>) -> thread::JoinHandle<u32> {
    thread::spawn(move || {
        let mut ops = 0;
        let mut next = h.next_op(&|| Now::at(0));
        while let Some(op) = next {
            ops += 1;
            let (more, wakeups) = h.complete(Now::at(0), op, result);
            wakeups.wake();
            next = more.or_else(|| h.next_op(&|| Now::at(0)));
        }
        ops
    })
}

/// Two appender threads, passing bytes 1 and 2 to `f`; their results, in
/// that order.
fn two_appenders<T: Send + 'static>(h: &Arc<Handoff>, f: fn(&Handoff, u8) -> T) -> Vec<T> {
    let threads: Vec<_> = (1..=2u8)
        .map(|byte| {
            let h = h.clone();
            thread::spawn(move || f(&h, byte))
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Appenders served by the IO thread (submit, then wait) with the wake-up
/// relay: under loom [`spool_core::handoff::RELAY_FANOUT`] is 1, so
/// when one completion makes both appenders durable the IO thread unparks
/// one and that one must unpark the other; a lost hand-on leaves a thread
/// parked forever, which loom reports as a deadlock.
#[test]
fn two_producers_are_acked_only_after_the_io_thread_completes() {
    assert_eq!(spool_core::handoff::RELAY_FANOUT, 1);
    loom::model(|| {
        let h = handoff();
        let io = io_thread(h.clone(), Ok(()));
        let mut ids = two_appenders(&h, |h, byte| {
            let ticket = h.submit(Now::at(0), [[byte; 8].as_slice()]).unwrap();
            h.wait_durable(ticket).unwrap();
            assert!(h.durable() >= ticket.last);
            ticket.last
        });
        ids.sort();
        assert_eq!(ids, [Lsn(1), Lsn(2)]);
        h.close();
        let ops = io.join().unwrap();
        assert!((1..=2).contains(&ops), "{ops} appends for 2 records");
    });
}

#[test]
fn a_failed_sync_is_reported_and_never_acked() {
    loom::model(|| {
        let h = handoff();
        let io = io_thread(h.clone(), Err(IoError::Os(5)));
        let p = {
            let h = h.clone();
            thread::spawn(move || {
                let ticket = h.submit(Now::at(0), [b"doomed".as_slice()]).unwrap();
                h.wait_durable(ticket)
            })
        };
        assert_eq!(p.join().unwrap(), Err(AppendError::Failed(IoError::Os(5))));
        assert_eq!(h.durable(), Lsn(0));
        h.close();
        io.join().unwrap();
    });
}

/// A failure answers relayed and parked appenders alike: the second
/// appender may be queued on the relay or parked when the sync fails.
#[test]
fn a_failure_reaches_appenders_waiting_on_the_relay() {
    loom::model(|| {
        let h = handoff();
        let io = io_thread(h.clone(), Err(IoError::Os(5)));
        let answers = two_appenders(&h, |h, byte| {
            h.submit(Now::at(0), [[byte; 8].as_slice()])
                .map_err(AppendError::Submit)
                .and_then(|ticket| h.wait_durable(ticket))
        });
        for answer in answers {
            assert!(matches!(
                answer,
                Err(AppendError::Failed(IoError::Os(5)) | AppendError::Submit(_))
            ));
        }
        assert_eq!(h.durable(), Lsn(0));
        h.close();
        io.join().unwrap();
    });
}

/// An appender that leads: runs what `append_lead` hands it (and what
/// `complete_lead` hands on) with `result`, then waits.
fn lead(h: &Handoff, byte: u8, result: Result<(), IoError>) -> Result<Lsn, AppendError> {
    let payload = [byte; 8];
    let (ticket, mut op) = h.append_lead(Now::at(0), [payload.as_slice()])?;
    let mut lead = spool_core::handoff::Lead::new(ticket);
    while let Some(o) = op.take() {
        let (next, wakeups) = h.complete_lead(Now::at(0), o, result, &mut lead);
        wakeups.wake();
        op = next;
    }
    h.wait_durable(ticket)?;
    Ok(ticket.last)
}

/// Leaders beside the IO thread (an appender that does not lead waits
/// under the lock it submitted with): whichever thread runs an append, each
/// appender is answered once its records are durable, ids are given once,
/// and at most one append runs at a time (the state machine panics on a
/// second). The IO thread exits at close even when a leader ran the last
/// operation.
#[test]
fn leaders_and_the_io_thread_share_the_log() {
    loom::model(|| {
        let h = handoff();
        let io = io_thread(h.clone(), Ok(()));
        let mut ids = two_appenders(&h, |h, byte| {
            let id = lead(h, byte, Ok(())).unwrap();
            assert!(h.durable() >= id);
            id
        });
        ids.sort();
        assert_eq!(ids, [Lsn(1), Lsn(2)]);
        h.close();
        io.join().unwrap();
    });
}

/// A leader's failed sync fails the log for everyone: the leader and an
/// appender waiting behind it get the error, nothing is acknowledged, and
/// the IO thread stops.
#[test]
fn a_leaders_failed_sync_answers_everyone() {
    loom::model(|| {
        let h = handoff();
        let io = io_thread(h.clone(), Err(IoError::Os(5)));
        for answer in two_appenders(&h, |h, byte| lead(h, byte, Err(IoError::Os(5)))) {
            assert!(matches!(
                answer,
                Err(AppendError::Failed(IoError::Os(5)) | AppendError::Submit(_))
            ));
        }
        assert_eq!(h.durable(), Lsn(0));
        h.close();
        io.join().unwrap();
    });
}

/// A close while a leader runs the last append: the IO thread, woken by the
/// close while that append is still in flight, must be woken again when
/// the leader completes it, or it never exits.
#[test]
fn a_close_during_a_leaders_append_lets_the_io_thread_exit() {
    loom::model(|| {
        let h = handoff();
        let io = io_thread(h.clone(), Ok(()));
        let appender = {
            let h = h.clone();
            thread::spawn(move || lead(&h, 1, Ok(())))
        };
        h.close();
        match appender.join().unwrap() {
            Ok(id) => assert_eq!(id, Lsn(1)),
            Err(e) => assert_eq!(e, AppendError::Closed),
        }
        io.join().unwrap();
    });
}

/// The event loop's path: records submitted quietly and the IO thread woken
/// once afterwards (`submit_quiet` then `wake_io`) are written, with the
/// IO thread asleep, awake or between the two at either submit.
#[test]
fn quiet_submits_woken_once_are_written() {
    loom::model(|| {
        let h = handoff();
        let io = io_thread(h.clone(), Ok(()));
        let (first, w1) = h.submit_quiet(Now::at(0), [[1u8; 8].as_slice()]).unwrap();
        let (second, w2) = h.submit_quiet(Now::at(0), [[2u8; 8].as_slice()]).unwrap();
        if w1 || w2 {
            h.wake_io();
        }
        h.wait_durable(first).unwrap();
        h.wait_durable(second).unwrap();
        assert_eq!((first.last, second.last), (Lsn(1), Lsn(2)));
        h.close();
        io.join().unwrap();
    });
}
