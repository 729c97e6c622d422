//! The live recorder's records (`bpf/record.h`) turned into event batches for the state engine and the
//! .scap writer.

pub mod convert;
pub mod encode;
pub mod layout;
pub mod specs;
pub mod values;
