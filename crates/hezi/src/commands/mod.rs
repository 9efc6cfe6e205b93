//! One module per subcommand; each turns parsed flags into calls on the library crates.
//! Every handler returns the process exit code (`run` and `exec` pass the container's on).

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod freeze;
pub mod image;
pub mod image_bundle;
pub mod kill;
pub mod list;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;
pub mod validate;
