//! placeholder while the planner is written
