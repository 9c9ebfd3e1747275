//! `rampart`: watch a program, decide its calls against a policy, keep the trail.
fn main() {}
