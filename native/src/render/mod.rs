//! Rendering of event parameters as sysdig 0.29.3 prints them (`evt.args`).

pub mod args;
pub mod values;
