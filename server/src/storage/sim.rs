//! A simulated machine holding one data directory, for the deterministic
//! simulation: [`SimStorage`] implements [`Storage`], so the real segment
//! files, recovery and reader run on it unchanged.
//!
//! It models what a crash test needs and owns every such choice: each file
//! has a live image (what reads return: the page cache) and a durable
//! image (what survives a power loss), and the directory has live and
//! durable entries. `fsync`/`fdatasync` make a file's live image durable,
//! a directory sync its entries. Faults come per call from a seeded RNG:
//! ENOSPC from `posix_fallocate`, short writes, and EIO from file and
//! directory syncs, after which the kernel counts the failed pages as clean
//! (a later sync skips them and a read still shows them until
//! `drop_cache`). A crash is armed as a countdown of calls
//! ([`SimStorage::crash_after`]): the call that reaches it does not happen
//! and returns [`StorageError::Crashed`], as does every later one, so the
//! operation in progress unwinds wherever it stood; then
//! [`SimStorage::power_loss`] (per 512-byte sector, unsynced bytes kept or
//! lost; unsynced directory entries kept or lost one by one) or
//! [`SimStorage::process_kill`] (the page cache survives and is written
//! back; only falsely clean pages stay unwritten) restarts the machine.
//!
//! Guarantees: everything that happens follows from the seed and the
//! sequence of calls, so a run replays exactly. Behind the cargo feature
//! `sim`, which only tests turn on: the daemon is built without it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use spool_core::recover::SECTOR;

use super::backend::{Access, FileStat, Storage, StorageError};

const EIO: i32 = libc::EIO;
const EBADF: i32 = libc::EBADF;

/// splitmix64: small, fast, and good enough for choosing; every choice of
/// the simulation comes from one, so a seed replays exactly.
#[derive(Clone, Debug)]
pub struct SimRng(pub u64);

impl SimRng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// How often each fault is injected, per mille of the calls it can hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// `posix_fallocate` fails with ENOSPC.
    pub no_space: u64,
    /// `pwrite` writes a random prefix of its buffer (at least one byte).
    pub short_write: u64,
    /// `fsync`, `fdatasync` or the directory sync fails with EIO; a file's
    /// dirty pages become falsely clean.
    pub sync_eio: u64,
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        no_space: 0,
        short_write: 0,
        sync_eio: 0,
    };
}

/// What the machine did to its callers, counted since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injected {
    /// ENOSPC returned.
    pub no_space: u64,
    /// Short writes.
    pub short_writes: u64,
    /// Failed syncs.
    pub sync_errors: u64,
    /// Crashes in the middle of a caller's calls (an armed countdown ran out).
    pub crashes: u64,
}

#[derive(Clone, Default)]
struct Inode {
    /// What a read returns (the page cache).
    live: Vec<u8>,
    /// What survives a power loss.
    durable: Vec<u8>,
    /// Sectors whose sync failed: the kernel marked them clean without
    /// writing them, so no later sync will.
    falsely_clean: BTreeSet<usize>,
}

fn sector_range(s: usize, len: usize) -> std::ops::Range<usize> {
    (s * SECTOR).min(len)..((s + 1) * SECTOR).min(len)
}

impl Inode {
    /// The durable image after a successful sync: the live one, but for
    /// falsely clean sectors, which keep what the device has.
    fn sync(&mut self) {
        let old = std::mem::take(&mut self.durable);
        let mut new = self.live.clone();
        for &s in &self.falsely_clean {
            for i in sector_range(s, new.len()) {
                new[i] = old.get(i).copied().unwrap_or(0);
            }
        }
        self.durable = new;
    }

    /// A sync failed: every dirty sector is now "clean" but not on disk.
    fn sync_failed(&mut self) {
        for s in 0..self.live.len().div_ceil(SECTOR) {
            let range = sector_range(s, self.live.len());
            if self.durable.get(range.clone()) != Some(&self.live[range]) {
                self.falsely_clean.insert(s);
            }
        }
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        let end = offset + data.len();
        if self.live.len() < end {
            self.live.resize(end, 0);
        }
        self.live[offset..end].copy_from_slice(data);
        for s in offset / SECTOR..end.div_ceil(SECTOR) {
            self.falsely_clean.remove(&s);
        }
    }
}

#[derive(Clone)]
struct Machine {
    inodes: BTreeMap<u64, Inode>,
    live_dir: BTreeMap<String, u64>,
    durable_dir: BTreeMap<String, u64>,
    next_inode: u64,
    /// Incremented by every restart; descriptors from before are dead.
    boot: u64,
    rng: SimRng,
    faults: Faults,
    crash_in: Option<u64>,
    crashed: bool,
    calls: u64,
    injected: Injected,
    trace: bool,
}

/// An open file of a [`SimStorage`].
pub struct SimFile {
    inode: u64,
    boot: u64,
    access: Access,
    name: String,
}

/// The simulated machine (a cheap handle: clones share it). See the module
/// docs.
#[derive(Clone)]
pub struct SimStorage {
    dir: PathBuf,
    machine: Arc<Mutex<Machine>>,
}

impl SimStorage {
    /// An empty directory on a machine whose faults and power-loss choices
    /// come from `seed`. No faults and no crash are armed.
    pub fn new(seed: u64) -> SimStorage {
        SimStorage {
            dir: PathBuf::from("sim"),
            machine: Arc::new(Mutex::new(Machine {
                inodes: BTreeMap::new(),
                live_dir: BTreeMap::new(),
                durable_dir: BTreeMap::new(),
                next_inode: 0,
                boot: 0,
                rng: SimRng(seed),
                faults: Faults::NONE,
                crash_in: None,
                crashed: false,
                calls: 0,
                injected: Injected::default(),
                trace: false,
            })),
        }
    }

    fn machine(&self) -> MutexGuard<'_, Machine> {
        // A panic in a caller cannot leave the images half-changed in a
        // way later calls would misread: keep going with them.
        self.machine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Injects `faults` from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.machine().faults = faults;
    }

    /// Arms a crash: `calls` more calls run, the next one crashes the
    /// machine. `None` disarms it.
    pub fn crash_after(&self, calls: Option<u64>) {
        self.machine().crash_in = calls;
    }

    /// Whether the machine crashed (and waits for a restart).
    pub fn crashed(&self) -> bool {
        self.machine().crashed
    }

    /// Calls made since the machine was created (crashed ones included).
    pub fn calls(&self) -> u64 {
        self.machine().calls
    }

    /// What was injected so far.
    pub fn injected(&self) -> Injected {
        self.machine().injected
    }

    /// Prints every call and its result on stderr.
    pub fn set_trace(&self, on: bool) {
        self.machine().trace = on;
    }

    /// An independent copy of the machine as it is now.
    pub fn fork(&self) -> SimStorage {
        SimStorage {
            dir: self.dir.clone(),
            machine: Arc::new(Mutex::new(self.machine().clone())),
        }
    }

    /// Power fails, then the machine restarts: each file keeps its durable
    /// image and, per sector, maybe the unsynced bytes (never those of a
    /// falsely clean sector), with its durable or its live length; each
    /// directory entry not yet synced survives or not. Open descriptors die.
    pub fn power_loss(&self) {
        let m = &mut *self.machine();
        let names: BTreeSet<String> = m
            .live_dir
            .keys()
            .chain(m.durable_dir.keys())
            .cloned()
            .collect();
        let mut dir = BTreeMap::new();
        for name in names {
            let (l, d) = (m.live_dir.get(&name), m.durable_dir.get(&name));
            let pick = if l == d || m.rng.below(2) == 0 { d } else { l };
            if let Some(&ino) = pick {
                dir.insert(name, ino);
            }
        }
        for f in m.inodes.values_mut() {
            let len = if m.rng.below(2) == 0 {
                f.durable.len()
            } else {
                f.live.len()
            };
            let mut out = f.durable.clone();
            out.resize(len, 0);
            for s in 0..len.div_ceil(SECTOR) {
                if f.falsely_clean.contains(&s) || m.rng.below(2) == 0 {
                    continue; // this sector's unsynced bytes never landed
                }
                for i in sector_range(s, len) {
                    if let Some(&b) = f.live.get(i) {
                        out[i] = b;
                    }
                }
            }
            f.live = out.clone();
            f.durable = out;
            f.falsely_clean.clear();
        }
        m.live_dir = dir.clone();
        m.durable_dir = dir;
        m.restart();
        if m.trace {
            eprintln!("  --- power loss");
        }
    }

    /// The process dies and the machine restarts: the page cache lives on
    /// and the kernel writes it back, except falsely clean sectors, which a
    /// read still shows until `drop_cache` (recovery's settle step) drops
    /// them. Open descriptors die.
    pub fn process_kill(&self) {
        let m = &mut *self.machine();
        for f in m.inodes.values_mut() {
            f.sync();
        }
        m.durable_dir = m.live_dir.clone();
        m.restart();
        if m.trace {
            eprintln!("  --- process kill");
        }
    }
}

impl Machine {
    fn restart(&mut self) {
        let live = &self.live_dir;
        self.inodes.retain(|ino, _| live.values().any(|i| i == ino));
        self.boot += 1;
        self.crashed = false;
        self.crash_in = None;
    }

    /// Every call starts here: a crashed machine does nothing, an armed
    /// countdown may run out now.
    fn begin(&mut self) -> Result<(), StorageError> {
        if self.crashed {
            return Err(StorageError::Crashed);
        }
        self.calls += 1;
        if let Some(n) = self.crash_in.as_mut() {
            if *n == 0 {
                self.crashed = true;
                self.injected.crashes += 1;
                return Err(StorageError::Crashed);
            }
            *n -= 1;
        }
        Ok(())
    }

    fn inode(&mut self, f: &SimFile) -> Result<&mut Inode, StorageError> {
        if f.boot != self.boot {
            return Err(StorageError::Os(EBADF));
        }
        self.inodes.get_mut(&f.inode).ok_or(StorageError::Os(EBADF))
    }

    fn sync(&mut self, f: &SimFile) -> Result<(), StorageError> {
        let fail = self.rng.chance(self.faults.sync_eio);
        let inode = self.inode(f)?;
        if fail {
            inode.sync_failed();
            self.injected.sync_errors += 1;
            return Err(StorageError::Os(EIO));
        }
        inode.sync();
        Ok(())
    }

    fn open(&mut self, name: &str, access: Access) -> Result<SimFile, StorageError> {
        let inode = *self.live_dir.get(name).ok_or(StorageError::NotFound)?;
        Ok(SimFile {
            inode,
            boot: self.boot,
            access,
            name: name.to_owned(),
        })
    }

    fn create(&mut self, name: &str) -> SimFile {
        let inode = match self.live_dir.get(name) {
            Some(&ino) => ino,
            None => {
                self.next_inode += 1;
                self.live_dir.insert(name.to_owned(), self.next_inode);
                self.next_inode
            }
        };
        let f = self.inodes.entry(inode).or_default();
        f.live.clear();
        f.falsely_clean.clear();
        SimFile {
            inode,
            boot: self.boot,
            access: Access::ReadWrite,
            name: name.to_owned(),
        }
    }

    fn pwrite(&mut self, f: &SimFile, buf: &[u8], offset: u64) -> Result<(), StorageError> {
        if f.access == Access::Read {
            return Err(StorageError::Os(EBADF));
        }
        let offset = usize::try_from(offset).map_err(|_| StorageError::Os(libc::EFBIG))?;
        let short = buf.len() > 1 && self.rng.chance(self.faults.short_write);
        let cut = if short {
            1 + self.rng.below(buf.len() as u64 - 1) as usize
        } else {
            buf.len()
        };
        self.inode(f)?.write(offset, &buf[..cut]);
        if short {
            self.injected.short_writes += 1;
            return Err(StorageError::ShortWrite);
        }
        Ok(())
    }

    fn pread(&mut self, f: &SimFile, buf: &mut [u8], offset: u64) -> Result<usize, StorageError> {
        if f.access == Access::Write {
            return Err(StorageError::Os(EBADF));
        }
        let live = &self.inode(f)?.live;
        let from = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(live.len());
        let n = buf.len().min(live.len() - from);
        buf[..n].copy_from_slice(&live[from..from + n]);
        Ok(n)
    }

    fn fallocate(&mut self, f: &SimFile, len: u64) -> Result<(), StorageError> {
        let len = usize::try_from(len).map_err(|_| StorageError::Os(libc::EFBIG))?;
        if self.rng.chance(self.faults.no_space) {
            self.injected.no_space += 1;
            return Err(StorageError::NoSpace);
        }
        let inode = self.inode(f)?;
        if inode.live.len() < len {
            inode.live.resize(len, 0);
        }
        Ok(())
    }

    fn stat(&mut self, f: &SimFile) -> Result<FileStat, StorageError> {
        let len = self.inode(f)?.live.len() as u64;
        let links = self.live_dir.values().filter(|&&i| i == f.inode).count() as u64;
        Ok(FileStat {
            len,
            links,
            modified_secs: 0,
        })
    }

    fn drop_cache(&mut self, f: &SimFile) -> Result<(), StorageError> {
        let inode = self.inode(f)?;
        for &s in &inode.falsely_clean {
            for i in sector_range(s, inode.live.len()) {
                inode.live[i] = inode.durable.get(i).copied().unwrap_or(0);
            }
        }
        inode.falsely_clean.clear();
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        let ino = self.live_dir.remove(from).ok_or(StorageError::NotFound)?;
        self.live_dir.insert(to.to_owned(), ino);
        Ok(())
    }

    fn unlink(&mut self, name: &str) -> Result<(), StorageError> {
        self.live_dir.remove(name).ok_or(StorageError::NotFound)?;
        Ok(())
    }

    fn sync_dir(&mut self) -> Result<(), StorageError> {
        if self.rng.chance(self.faults.sync_eio) {
            self.injected.sync_errors += 1;
            return Err(StorageError::Os(EIO));
        }
        self.durable_dir = self.live_dir.clone();
        Ok(())
    }
}

impl SimStorage {
    /// Runs one call on the machine: counts it, crashes it if the countdown
    /// ran out, traces it.
    fn call<T: std::fmt::Debug>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&mut Machine) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let m = &mut *self.machine();
        let result = m.begin().and_then(|()| f(m));
        if m.trace {
            eprintln!("  {} -> {result:?}", what());
        }
        result
    }
}

impl std::fmt::Debug for SimFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.name, self.inode)
    }
}

impl Storage for SimStorage {
    type File = SimFile;

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn open(&self, name: &str, access: Access) -> Result<SimFile, StorageError> {
        self.call(
            || format!("open({name}, {access:?})"),
            |m| m.open(name, access),
        )
    }

    fn create(&self, name: &str) -> Result<SimFile, StorageError> {
        self.call(|| format!("create({name})"), |m| Ok(m.create(name)))
    }

    fn pwrite(&self, file: &SimFile, buf: &[u8], offset: u64) -> Result<(), StorageError> {
        self.call(
            || format!("pwrite({file:?}, {offset}, {} bytes)", buf.len()),
            |m| m.pwrite(file, buf, offset),
        )
    }

    fn pread(&self, file: &SimFile, buf: &mut [u8], offset: u64) -> Result<usize, StorageError> {
        let len = buf.len();
        self.call(
            || format!("pread({file:?}, {offset}, {len} bytes)"),
            |m| m.pread(file, buf, offset),
        )
    }

    fn fdatasync(&self, file: &SimFile) -> Result<(), StorageError> {
        self.call(|| format!("fdatasync({file:?})"), |m| m.sync(file))
    }

    fn fsync(&self, file: &SimFile) -> Result<(), StorageError> {
        self.call(|| format!("fsync({file:?})"), |m| m.sync(file))
    }

    fn fallocate(&self, file: &SimFile, len: u64) -> Result<(), StorageError> {
        self.call(
            || format!("fallocate({file:?}, {len})"),
            |m| m.fallocate(file, len),
        )
    }

    fn stat(&self, file: &SimFile) -> Result<FileStat, StorageError> {
        self.call(|| format!("fstat({file:?})"), |m| m.stat(file))
    }

    fn drop_cache(&self, file: &SimFile) -> Result<(), StorageError> {
        self.call(|| format!("drop_cache({file:?})"), |m| m.drop_cache(file))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        self.call(|| format!("rename({from}, {to})"), |m| m.rename(from, to))
    }

    fn unlink(&self, name: &str) -> Result<(), StorageError> {
        self.call(|| format!("unlink({name})"), |m| m.unlink(name))
    }

    fn sync_dir(&self) -> Result<(), StorageError> {
        self.call(|| "fsync(dir)".to_owned(), Machine::sync_dir)
    }

    fn list(&self) -> Result<Vec<String>, StorageError> {
        self.call(
            || "readdir".to_owned(),
            |m| Ok(m.live_dir.keys().cloned().collect()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_data_and_entries_can_be_lost_synced_ones_never() {
        for seed in 0..64 {
            let s = SimStorage::new(seed);
            let f = s.create("a").expect("create");
            s.pwrite(&f, &[1u8; 1024], 0).expect("write");
            s.fsync(&f).expect("fsync");
            s.sync_dir().expect("sync dir");
            s.pwrite(&f, &[2u8; 1024], 1024).expect("write");
            let g = s.create("b").expect("create");
            s.pwrite(&g, &[3u8; 10], 0).expect("write");
            s.power_loss();
            let (a, _) = s.read("a").expect("a is durable");
            assert_eq!(&a[..1024], &[1u8; 1024][..]);
            assert!(a[1024..].iter().all(|&b| b == 0 || b == 2));
            assert!(s.stat(&f).is_err(), "descriptors die with the machine");
            if let Ok((b, _)) = s.read("b") {
                assert!(b.iter().all(|&x| x == 0 || x == 3));
            }
        }
    }

    #[test]
    fn a_failed_sync_leaves_falsely_clean_pages_until_dropped() {
        let s = SimStorage::new(7);
        let f = s.create("a").expect("create");
        s.sync_dir().expect("sync dir");
        s.set_faults(Faults {
            sync_eio: 1000,
            ..Faults::NONE
        });
        s.pwrite(&f, &[9u8; 512], 0).expect("write");
        assert_eq!(s.fdatasync(&f), Err(StorageError::Os(EIO)));
        s.set_faults(Faults::NONE);
        s.fdatasync(&f).expect("a retry \"succeeds\"");
        s.process_kill();
        assert_eq!(
            s.read("a").expect("read").0,
            vec![9u8; 512],
            "the cache shows them"
        );
        let f = s.open("a", Access::ReadWrite).expect("open");
        s.drop_cache(&f).expect("drop");
        assert_eq!(
            s.read("a").expect("read").0,
            vec![0u8; 512],
            "never written"
        );
    }

    #[test]
    fn an_armed_crash_stops_every_call_until_restart() {
        let s = SimStorage::new(1);
        s.crash_after(Some(1));
        let f = s.create("a").expect("first call runs");
        assert_eq!(s.fsync(&f), Err(StorageError::Crashed));
        assert_eq!(s.sync_dir(), Err(StorageError::Crashed));
        assert!(s.crashed());
        s.process_kill();
        assert!(!s.crashed());
        assert_eq!(s.injected().crashes, 1);
        assert!(s.read("a").is_ok());
    }
}
