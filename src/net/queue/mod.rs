//! netlab's message broker on real files and sockets: the log in segment files
//! ([`store`]) or in Redis Streams ([`redis_store`], over the blocking client
//! [`resp`]), the log on its own thread with the sync policy ([`log`]), and the broker
//! served over Socket.IO in `/queue` ([`server`]). The decisions are
//! `wire::application::queue`'s.

pub mod log;
pub mod redis_store;
pub mod resp;
pub mod server;
pub mod store;

pub use redis_store::RedisStore;
pub use server::{serve, serve_on, QueueApp, QueueConfig, QueueEvent, Status, NAMESPACE};
pub use store::{FileConfig, FileStore, Promise, Store, StoreError};
