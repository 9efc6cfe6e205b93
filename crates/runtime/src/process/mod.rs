//! The container process: a plain-data [`plan::ProcessPlan`] built from config.json in the
//! parent, applied in the init (or exec) child through the [`sys::ProcessSys`] seam.

pub mod apply;
pub mod caps;
pub mod plan;
pub mod sys;
