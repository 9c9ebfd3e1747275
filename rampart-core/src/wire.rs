//! The wire between the preload library and the collector: one binary frame
//! per SOCK_SEQPACKET message.
//!
//! The encoder half is `no_std` and allocation-free: it runs inside hooks in
//! other people's processes. The decoder half (feature `full`) turns frames
//! back into [`crate::event::Event`]s for the collector.
//!
//! Placeholder: the frame layout is defined by the preload issue.
