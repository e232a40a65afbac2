//! Fixtures for tests across the workspace: private servers of the external engines a pool
//! runs on, started from their Debian packages' programs on free loopback ports in temporary
//! directories, never the system's services, and stopped when the test process ends.

pub mod nats;
pub mod postgres;
