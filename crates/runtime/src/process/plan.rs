//! [`ProcessPlan`]: everything the init (or an exec'd process) applies to itself, as plain data
//! built from config.json before any fork, so it can be printed and unit-tested.

use std::path::PathBuf;

use oci_spec::runtime::{
    IOPriorityClass, LinuxMemoryPolicy, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, PosixRlimitType, Process,
    Spec,
};

use super::caps::CapSets;
use crate::error::{Result, RuntimeError};

/// The default `PATH` when the process env has none (runc's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// `RLIMIT_*` number.
    pub resource: u32,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// `sched_setattr` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedAttr {
    /// `SCHED_*` policy.
    pub policy: u32,
    /// `SCHED_FLAG_*` bits.
    pub flags: u64,
    /// Nice value (SCHED_OTHER/BATCH).
    pub nice: i32,
    /// Static priority (FIFO/RR).
    pub priority: u32,
    /// Deadline runtime (ns).
    pub runtime: u64,
    /// Deadline (ns).
    pub deadline: u64,
    /// Deadline period (ns).
    pub period: u64,
}

/// `set_mempolicy(2)` arguments (`linux.memoryPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemPolicy {
    /// `MPOL_*` mode ored with `MPOL_F_*` flags.
    pub mode: i32,
    /// Node mask, 64 nodes per word (empty for no nodes).
    pub nodes: Vec<u64>,
}

/// What to apply to the process before it execs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessPlan {
    /// argv (`args[0]` resolved through PATH at exec time).
    pub args: Vec<String>,
    /// `process.apparmorProfile`: the AppArmor profile to change to at exec.
    pub apparmor_profile: Option<String>,
    /// Environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// Working directory inside the container.
    pub cwd: PathBuf,
    /// Whether stdio is a pty from the console socket.
    pub terminal: bool,
    /// uid inside the container.
    pub uid: u32,
    /// gid inside the container.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// umask, if set.
    pub umask: Option<u32>,
    /// Capability sets (`None` leaves them as inherited; plans built from a `Process` always
    /// have `Some`, all empty when the config has no `capabilities`).
    pub caps: Option<CapSets>,
    /// Resource limits.
    pub rlimits: Vec<Rlimit>,
    /// Set no_new_privs.
    pub no_new_privs: bool,
    /// `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// Hostname (needs a new uts namespace).
    pub hostname: Option<String>,
    /// NIS domain name (needs a new uts namespace).
    pub domainname: Option<String>,
    /// sysctl keys and values (`net.ipv4.ip_forward`).
    pub sysctl: Vec<(String, String)>,
    /// personality(2) persona.
    pub personality: Option<u64>,
    /// `linux.memoryPolicy`.
    pub mem_policy: Option<MemPolicy>,
    /// ioprio_set value.
    pub io_priority: Option<i32>,
    /// Scheduler attributes.
    pub scheduler: Option<SchedAttr>,
    /// CPUs for the process while it is set up.
    pub cpu_affinity_initial: Option<Vec<usize>>,
    /// CPUs for the process after it joined its cgroup (set just before exec).
    pub cpu_affinity_final: Option<Vec<usize>>,
    /// Number of fds above 2 passed through (3..3+n).
    pub preserve_fds: u32,
}

fn rlimit_number(t: PosixRlimitType) -> u32 {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Parses a cpu list like `0-3,7`.
pub fn parse_cpu_list(s: &str, setting: &str) -> Result<Vec<usize>> {
    let bad = || RuntimeError::Unsupported {
        setting: setting.to_string(),
        msg: format!("invalid cpu list {s:?}"),
    };
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.parse().map_err(|_| bad())?;
                let b: usize = b.parse().map_err(|_| bad())?;
                if a > b || b >= 8192 {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => {
                let c: usize = part.parse().map_err(|_| bad())?;
                if c >= 8192 {
                    return Err(bad());
                }
                cpus.push(c);
            }
        }
    }
    if cpus.is_empty() {
        return Err(bad());
    }
    Ok(cpus)
}

fn sched_attr(s: &oci_spec::runtime::Scheduler) -> SchedAttr {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    SchedAttr {
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    }
}

/// The `linux.memoryPolicy` modes this runtime applies (runtime-spec names).
pub const MEMORY_POLICY_MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_PREFERRED",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_LOCAL",
    "MPOL_PREFERRED_MANY",
    "MPOL_WEIGHTED_INTERLEAVE",
];

/// The `linux.memoryPolicy` flags this runtime applies.
pub const MEMORY_POLICY_FLAGS: &[&str] = &[
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// Converts `linux.memoryPolicy` into `set_mempolicy(2)` arguments, with runc's checks of how
/// many nodes each mode takes.
pub fn mem_policy(mp: &LinuxMemoryPolicy) -> Result<MemPolicy> {
    let bad = |msg: String| RuntimeError::Unsupported {
        setting: "linux.memoryPolicy".into(),
        msg,
    };
    let mode = match mp.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    let flags = mp.flags().iter().flatten().fold(0i32, |acc, f| {
        acc | match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        }
    });
    let list = mp.nodes().as_deref().map(str::trim).unwrap_or("");
    let nodes = if list.is_empty() {
        Vec::new()
    } else {
        parse_cpu_list(list, "linux.memoryPolicy.nodes")?
    };
    match mode {
        0 | 4 if !nodes.is_empty() => {
            return Err(bad(format!(
                "mode {} takes no nodes, got {list:?}",
                mp.mode()
            )))
        }
        2 | 3 | 5 | 6 if nodes.is_empty() => {
            return Err(bad(format!("mode {} needs at least one node", mp.mode())))
        }
        _ => {}
    }
    let mut mask = Vec::new();
    for n in nodes {
        let (word, bit) = (n / 64, n % 64);
        if mask.len() <= word {
            mask.resize(word + 1, 0u64);
        }
        mask[word] |= 1u64 << bit;
    }
    Ok(MemPolicy {
        mode: mode | flags,
        nodes: mask,
    })
}

impl ProcessPlan {
    /// Builds the plan of a process from its runtime-spec `Process` (config.json's `process`
    /// or an exec `--process` file). Container-wide settings come from [`Self::from_spec`].
    pub fn from_process(p: &Process) -> Result<Self> {
        let args = p.args().clone().unwrap_or_default();
        if args.is_empty() {
            return Err(RuntimeError::Unsupported {
                setting: "process.args".into(),
                msg: "args must not be empty".into(),
            });
        }
        let cwd = p.cwd().clone();
        if !cwd.is_absolute() {
            return Err(RuntimeError::Unsupported {
                setting: "process.cwd".into(),
                msg: format!("cwd {} must be an absolute path", cwd.display()),
            });
        }
        let user = p.user();
        let apparmor_profile = p.apparmor_profile().clone().filter(|s| !s.is_empty());
        if let Some(profile) = &apparmor_profile {
            crate::apparmor::check(profile, "process.apparmorProfile")?;
        }
        if p.selinux_label().as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(RuntimeError::Unsupported {
                setting: "process.selinuxLabel".into(),
                msg: "SELinux labels are not supported by this build".into(),
            });
        }
        // No `capabilities` at all means no capabilities (runc's behaviour), not "keep root's".
        let caps = Some(match p.capabilities() {
            Some(c) => CapSets::from_spec(c)?,
            None => CapSets::default(),
        });
        let rlimits = p
            .rlimits()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                if r.soft() > r.hard() {
                    return Err(RuntimeError::Unsupported {
                        setting: format!("process.rlimits[{i}]"),
                        msg: format!(
                            "{} soft limit {} exceeds hard limit {}",
                            r.typ(),
                            r.soft(),
                            r.hard()
                        ),
                    });
                }
                Ok(Rlimit {
                    resource: rlimit_number(r.typ()),
                    soft: r.soft(),
                    hard: r.hard(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let io_priority = p.io_priority().as_ref().map(|io| {
            let class = match io.class() {
                IOPriorityClass::IoprioClassRt => 1,
                IOPriorityClass::IoprioClassBe => 2,
                IOPriorityClass::IoprioClassIdle => 3,
            };
            (class << 13) | (io.priority().clamp(0, 7) as i32)
        });
        let (initial, fin) = match p.exec_cpu_affinity() {
            Some(a) => (
                a.initial()
                    .as_deref()
                    .map(|s| parse_cpu_list(s, "process.execCPUAffinity.initial"))
                    .transpose()?,
                a.cpu_affinity_final()
                    .as_deref()
                    .map(|s| parse_cpu_list(s, "process.execCPUAffinity.final"))
                    .transpose()?,
            ),
            None => (None, None),
        };
        Ok(ProcessPlan {
            args,
            env: p.env().clone().unwrap_or_default(),
            cwd,
            terminal: p.terminal().unwrap_or(false),
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
            caps,
            rlimits,
            no_new_privs: p.no_new_privileges().unwrap_or(false),
            oom_score_adj: p.oom_score_adj(),
            io_priority,
            scheduler: p.scheduler().as_ref().map(sched_attr),
            cpu_affinity_initial: initial,
            cpu_affinity_final: fin,
            apparmor_profile,
            ..Default::default()
        })
    }

    /// Builds the init's plan from the whole config: the process plus hostname, domainname,
    /// sysctl and personality.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| RuntimeError::Unsupported {
                setting: "process".into(),
                msg: "config.json has no process".into(),
            })?;
        let mut plan = Self::from_process(process)?;
        plan.hostname = spec.hostname().clone();
        plan.domainname = spec.domainname().clone();
        if let Some(linux) = spec.linux() {
            let mut sysctl: Vec<(String, String)> = linux
                .sysctl()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            sysctl.sort();
            plan.sysctl = sysctl;
        }
        plan.set_container_wide(spec)?;
        Ok(plan)
    }

    /// Sets what every process of the container gets, the init and each `exec` alike (as
    /// runc's init and setns paths both do): `linux.personality` and `linux.memoryPolicy`.
    pub fn set_container_wide(&mut self, spec: &Spec) -> Result<()> {
        let Some(linux) = spec.linux() else {
            return Ok(());
        };
        if let Some(p) = linux.personality() {
            if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                // runc warns and ignores the flags (the spec defines none it applies).
                tracing::warn!("linux.personality.flags are ignored (as runc does)");
            }
            self.personality = Some(match p.domain() {
                LinuxPersonalityDomain::PerLinux => 0x0000,
                LinuxPersonalityDomain::PerLinux32 => 0x0008,
            });
        }
        if let Some(mp) = linux.memory_policy() {
            self.mem_policy = Some(mem_policy(mp)?);
        }
        Ok(())
    }

    /// The value of `key` in the plan's environment.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_plan() {
        let plan = ProcessPlan::from_spec(&Spec::default()).expect("plan");
        assert_eq!(plan.args, vec!["sh".to_string()]);
        assert_eq!(plan.cwd, PathBuf::from("/"));
        assert_eq!(
            plan.rlimits,
            vec![Rlimit {
                resource: libc::RLIMIT_NOFILE,
                soft: 1024,
                hard: 1024
            }]
        );
        assert!(plan.caps.is_some());
        assert_eq!(plan.env_var("TERM"), Some("xterm"));
        assert_eq!(plan.hostname.as_deref(), Some("youki"));
    }

    #[test]
    fn relative_cwd_is_refused() {
        let mut p = Process::default();
        p.set_cwd("rel".into());
        let err = ProcessPlan::from_process(&p).expect_err("relative");
        assert!(err.to_string().contains("process.cwd"), "{err}");
    }

    #[test]
    fn absent_capabilities_mean_none() {
        let mut p = Process::default();
        p.set_capabilities(None);
        let plan = ProcessPlan::from_process(&p).expect("plan");
        assert_eq!(plan.caps, Some(CapSets::default()));
    }

    #[test]
    fn empty_args_refused() {
        let mut p = Process::default();
        p.set_args(Some(vec![]));
        assert!(ProcessPlan::from_process(&p).is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-2,5", "x").ok(), Some(vec![0, 1, 2, 5]));
        assert!(parse_cpu_list("3-1", "x").is_err());
        assert!(parse_cpu_list("", "x").is_err());
        assert!(parse_cpu_list("a", "x").is_err());
    }
}
