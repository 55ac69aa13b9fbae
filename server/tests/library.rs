//! The embeddable blocking API: many threads append to a real directory;
//! every id returned is durable and reads back after reopening.

use std::collections::BTreeMap;
use std::sync::Arc;

use spool_core::read::{LogReader, ReadItem, Start};
use spool_server::storage::dir_store::DirStore;
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
    // The reader yields every record, in id order, consecutive.
    let mut read = BTreeMap::new();
    let mut store = DirStore::new(&dir);
    let mut reader = LogReader::new(Start::Oldest);
    while let Some(item) = reader.next(&mut store).unwrap() {
        match item {
            ReadItem::Record { id, payload } => {
                assert_eq!(id.0, read.len() as u64 + 1, "ids are consecutive");
                read.insert(id.0, payload.to_vec());
            }
            ReadItem::Gap { from, to } => panic!("unexpected gap {from}..={to}"),
        }
    }
    assert_eq!(read, written);
    // Resuming after an id yields exactly the rest.
    let mut reader = LogReader::new(Start::After(spool_core::record::Lsn(123)));
    let mut ids = Vec::new();
    while let Some(item) = reader.next(&mut store).unwrap() {
        if let ReadItem::Record { id, .. } = item {
            ids.push(id.0);
        }
    }
    assert_eq!(ids, (124..=400).collect::<Vec<_>>());
    // A second open of a directory in use is refused.
    let held = Log::open(&dir).unwrap();
    assert!(Log::open(&dir).is_err());
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}
