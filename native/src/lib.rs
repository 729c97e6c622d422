//! sysnb's native core: the .scap reader, the state engine and the Arrow column output, batch by batch.
//!
//! Captures are evidence from compromised hosts: every length is bounded by the file, every allocation by
//! a limit, and no panic crosses into Python (the module catches them at its edge).

pub mod blocks;
pub mod columns;
pub mod event_table;
pub mod events;
pub mod reader;
pub mod render;
pub mod scan;
pub mod source;
pub mod state;

#[cfg(feature = "python")]
mod python;
