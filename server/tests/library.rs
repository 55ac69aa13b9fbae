//! The embeddable blocking API: many threads append to a real directory;
//! every id returned is durable and reads back after reopening.

use std::collections::BTreeMap;
use std::sync::Arc;

use spool_server::storage::recovery::{for_each_record, scan_dir};
use spool_server::Log;

#[test]
fn many_threads_append_and_every_returned_id_reads_back() {
    let dir = std::env::temp_dir().join(format!("spool-lib-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = Arc::new(Log::open(&dir).unwrap());
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..50u32)
                    .map(|i| {
                        let payload = format!("thread {t} record {i}").into_bytes();
                        (log.append(&payload).unwrap().0, payload)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut written = BTreeMap::new();
    for t in threads {
        written.extend(t.join().unwrap());
    }
    assert_eq!(written.len(), 400, "ids are unique");
    let syncs = log.handoff().inspect(|gc| gc.stats().syncs);
    assert!(syncs <= 400, "{syncs} syncs");
    Arc::into_inner(log).unwrap().close();

    // Reopen: recovery finds exactly what was returned.
    let reopened = Log::open(&dir).unwrap();
    assert_eq!(reopened.recovered().records, 400);
    reopened.close();
    let mut read = BTreeMap::new();
    scan_dir(&dir, false, |id, bytes, scan, _| {
        for_each_record(id, bytes, scan, |lsn, payload| {
            read.insert(lsn.0, payload.to_vec());
        });
        Ok(())
    })
    .unwrap();
    assert_eq!(read, written);
    // A second open of a directory in use is refused.
    let held = Log::open(&dir).unwrap();
    assert!(Log::open(&dir).is_err());
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}
