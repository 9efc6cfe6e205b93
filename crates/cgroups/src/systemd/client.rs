//! The systemd Manager calls the driver makes, over [`super::dbus`]: start a transient scope
//! around a process, set unit properties, stop a unit, and wait for the jobs these queue.

use std::path::PathBuf;
use std::time::Duration;

use super::dbus::{Call, Connection, DbusError, Message, Value};
use super::instance::Instance;
use super::properties::Property;
use crate::CgroupError;

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long to wait for systemd to answer or finish a job (runc waits 30 s too).
const TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to a systemd Manager (PID 1's, or a user's).
#[derive(Debug)]
pub struct Systemd {
    conn: Connection,
    /// Where we are connected (for messages).
    pub socket: PathBuf,
}

fn err(e: DbusError) -> CgroupError {
    CgroupError::Systemd(e.to_string())
}

/// Unit properties as D-Bus wants them: `a(sv)`.
fn property_array(props: &[Property]) -> Value {
    let items = props
        .iter()
        .map(|(k, v)| Value::Struct(vec![Value::str(k), Value::variant(v.clone())]))
        .collect();
    Value::array("(sv)", items)
}

impl Systemd {
    /// Connects to `instance`'s systemd, and on a bus subscribes to its job signals.
    pub fn connect(instance: &Instance) -> Result<Self, CgroupError> {
        let (socket, bus) = instance.socket()?;
        let conn =
            Connection::open_as(&socket, bus, TIMEOUT, instance.auth_uid()).map_err(|e| {
                if instance.is_user() {
                    CgroupError::Systemd(format!("the user's systemd instance: {e}"))
                } else {
                    err(e)
                }
            })?;
        let mut s = Systemd { conn, socket };
        if bus {
            s.conn
                .call(&Call {
                    destination: Some("org.freedesktop.DBus"),
                    path: "/org/freedesktop/DBus",
                    interface: "org.freedesktop.DBus",
                    member: "AddMatch",
                    args: &[Value::str(format!(
                        "type='signal',sender='{DEST}',path='{PATH}',interface='{MANAGER}',member='JobRemoved'"
                    ))],
                })
                .map_err(err)?;
        }
        Ok(s)
    }

    fn manager(&mut self, member: &str, args: &[Value]) -> Result<Vec<Value>, DbusError> {
        self.conn.call(&Call {
            destination: Some(DEST),
            path: PATH,
            interface: MANAGER,
            member,
            args,
        })
    }

    /// The manager's own cgroup (its `ControlGroup` property), e.g.
    /// `/user.slice/user-1000.slice/user@1000.service` for a user's manager: the root of the
    /// units it makes.
    pub fn control_group(&mut self) -> Result<String, CgroupError> {
        let reply = self
            .conn
            .call(&Call {
                destination: Some(DEST),
                path: PATH,
                interface: "org.freedesktop.DBus.Properties",
                member: "Get",
                args: &[Value::str(MANAGER), Value::str("ControlGroup")],
            })
            .map_err(err)?;
        match reply.first() {
            Some(Value::Variant(v)) => v.as_str().map(str::to_string),
            _ => None,
        }
        .ok_or_else(|| CgroupError::Systemd("the manager's ControlGroup is not a string".into()))
    }

    /// Waits for the `JobRemoved` signal of `job` and returns its result (`done`, `failed`,
    /// `timeout`, `canceled`, `dependency`, `skipped`).
    fn wait_job(&mut self, job: &str) -> Result<String, CgroupError> {
        self.conn
            .wait_signal(&format!("JobRemoved for {job}"), |m: &Message| {
                if m.member.as_deref() != Some("JobRemoved") {
                    return None;
                }
                // JobRemoved(u id, o job, s unit, s result)
                (m.body.get(1).and_then(Value::as_str) == Some(job)).then(|| {
                    m.body
                        .get(3)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                })
            })
            .map_err(err)
    }

    /// Starts transient unit `unit` with `props` and waits until systemd reports it started.
    /// A leftover failed unit of the same name is reset and the start retried once.
    pub fn start_transient(&mut self, unit: &str, props: &[Property]) -> Result<(), CgroupError> {
        let args = [
            Value::str(unit),
            Value::str("replace"),
            property_array(props),
            Value::array("(sa(sv))", vec![]),
        ];
        let reply = match self.manager("StartTransientUnit", &args) {
            Err(e) if e.remote_name() == Some("org.freedesktop.systemd1.UnitExists") => {
                tracing::debug!(
                    unit,
                    "unit exists; resetting a failed leftover and retrying"
                );
                let _ = self.manager("ResetFailedUnit", &[Value::str(unit)]);
                self.manager("StartTransientUnit", &args)
                    .map_err(|e| CgroupError::Systemd(format!("unit {unit} already exists: {e}")))?
            }
            other => other.map_err(err)?,
        };
        let job = reply
            .first()
            .and_then(Value::as_str)
            .ok_or_else(|| CgroupError::Systemd("StartTransientUnit returned no job".into()))?
            .to_string();
        let result = self.wait_job(&job)?;
        if result != "done" {
            return Err(CgroupError::Systemd(format!(
                "starting unit {unit}: job {job} ended with result {result:?}"
            )));
        }
        Ok(())
    }

    /// Sets runtime (not persistent) properties of a running unit.
    pub fn set_properties(&mut self, unit: &str, props: &[Property]) -> Result<(), CgroupError> {
        if props.is_empty() {
            return Ok(());
        }
        self.manager(
            "SetUnitProperties",
            &[Value::str(unit), Value::Bool(true), property_array(props)],
        )
        .map(|_| ())
        .map_err(|e| CgroupError::Systemd(format!("unit {unit}: {e}")))
    }

    /// Stops `unit` and waits for the stop job; a unit that is already gone is not an error.
    /// Then clears a failed state so the name can be reused.
    pub fn stop(&mut self, unit: &str) -> Result<(), CgroupError> {
        match self.manager("StopUnit", &[Value::str(unit), Value::str("replace")]) {
            Ok(reply) => {
                if let Some(job) = reply.first().and_then(Value::as_str).map(str::to_string) {
                    let result = self.wait_job(&job)?;
                    if result != "done" && result != "canceled" {
                        return Err(CgroupError::Systemd(format!(
                            "stopping unit {unit}: job {job} ended with result {result:?}"
                        )));
                    }
                }
            }
            Err(e) if e.remote_name() == Some("org.freedesktop.systemd1.NoSuchUnit") => {}
            Err(e) => return Err(err(e)),
        }
        if let Err(e) = self.manager("ResetFailedUnit", &[Value::str(unit)]) {
            tracing::debug!(unit, error = %e, "reset-failed");
        }
        Ok(())
    }
}
