//! One module per subcommand; each turns parsed flags into calls on the library crates.
//! Every handler returns the process exit code (`run` and `exec` pass the container's on).

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod docs;
pub mod events;
pub mod exec;
pub mod features;
pub mod freeze;
pub mod image;
pub mod image_bundle;
pub mod kill;
pub mod list;
pub mod ps;
pub mod registry;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;
pub mod validate;

/// Helpers shared by the subcommands' unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    use clap::{Args, FromArgMatches};

    use crate::cli::GlobalOpts;

    /// Global options with their defaults, parsed on their own.
    pub(crate) fn globals() -> GlobalOpts {
        let cmd = GlobalOpts::augment_args(clap::Command::new("t"));
        GlobalOpts::from_arg_matches(&cmd.get_matches_from(["t"]))
            .expect("default global options parse")
    }
}
