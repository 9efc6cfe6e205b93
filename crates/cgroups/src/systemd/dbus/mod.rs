//! A minimal blocking D-Bus client: just what the systemd driver needs (method calls with
//! basic, array, struct and variant arguments, and waiting for a signal), in plain Rust with
//! no threads, so it is safe to use in the single-threaded create path.

pub mod conn;
pub mod message;
pub mod value;

pub use conn::{Connection, DbusError};
pub use message::{Call, Message, MessageType};
pub use value::Value;
