//! The state engine: threads, processes and fds replayed event by event with libsinsp's semantics (the
//! Python engine in `sysnb/state/` is the reference implementation of the same rules).

pub mod engine;
pub mod model;
pub mod network;
pub mod parsers;
pub mod paths;
pub mod syslog;
