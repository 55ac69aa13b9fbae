//! Storage: segment files on disk, the IO thread that writes them, and
//! recovery when a data directory is opened.

pub mod dir_store;
pub mod files;
pub mod index_files;
pub mod io_thread;
pub mod recovery;
