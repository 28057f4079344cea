#![doc = include_str!("../README.md")]

mod acks;
mod config;
mod error;
mod gateway;
mod hub;
mod leases;
mod partition;
mod retries;
mod standby;
mod task;
mod wire;
mod worker;

pub use acks::WorkerJournal;
pub use config::{
    DEFAULT_ACK_WAIT_MS, DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_LEASE_MS, DEFAULT_MAX_TRIES,
    DEFAULT_PARTITIONS, NatsConfig,
};
pub use error::NatsError;
pub use gateway::NatsGateway;
pub use standby::GatewayLease;
pub use worker::NatsWorker;
