//! The failover client (`relyard sign`).
