//! Watching a data directory with inotify: something was written, created,
//! renamed or deleted in it.
//!
//! Events mean "something changed, look again", never "this changed":
//! they are drained and not counted (identical events coalesce, and the
//! queue can overflow; `IN_Q_OVERFLOW` means the same). A follower reads
//! the files after each wake-up, and also after a timeout, so a missed
//! event costs at most the timeout.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// An inotify watch on one directory.
pub struct DirWatch {
    fd: OwnedFd,
}

impl DirWatch {
    /// Starts watching `dir` for writes, creations, renames and deletions.
    pub fn new(dir: &Path) -> io::Result<DirWatch> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::other("a data directory path holds a NUL byte"))?;
        // SAFETY: inotify_init1 takes flags only; the descriptor is owned
        // by the OwnedFd from here on.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by inotify_init1 and is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mask = libc::IN_MODIFY
            | libc::IN_CREATE
            | libc::IN_MOVED_TO
            | libc::IN_DELETE
            | libc::IN_CLOSE_WRITE;
        // SAFETY: a valid inotify descriptor and a NUL-terminated path that
        // lives across the call.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(DirWatch { fd })
    }

    /// The descriptor, readable when something changed (for an event loop).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Waits until something changed or `timeout` passed; drains the
    /// events. `true`: something changed.
    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one pollfd, a local of the right type, for the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(true)
            } else {
                Err(e)
            };
        }
        if n == 0 {
            return Ok(false);
        }
        self.drain();
        Ok(true)
    }

    /// Reads and drops every pending event.
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a local buffer of exactly its length from
            // a descriptor we own (non-blocking).
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
        }
    }
}
