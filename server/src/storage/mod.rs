//! Storage: the backend trait every file system call goes through (the
//! operating system's, and a simulated machine for the deterministic
//! simulation), segment files on it, the IO thread that writes them,
//! recovery when a data directory is opened, and the reader's store.

pub mod backend;
pub mod dir_store;
pub mod files;
pub mod index_files;
pub mod io_thread;
pub mod recovery;
#[cfg(feature = "sim")]
pub mod sim;
pub mod watch;
