//! Several netlab Socket.IO nodes on loopback, in this process, behind a balancer.
//!
//! Sticky sessions ([`sticky`]): a balancer in front of the nodes (netlab's own,
//! `net::balancer`, or a real haproxy, [`haproxy`]) with a policy, and six clients through
//! it: long-polling ones fail under round robin (`Session ID unknown`), WebSocket ones do
//! not care, and stickiness by source address or cookie fixes polling.

pub mod haproxy;
pub mod node;
pub mod sticky;

use crate::cli::socketio::BalancerKind;
use crate::net::balancer::Policy;
use std::net::SocketAddr;
use sticky::Trial;

/// One policy with the chosen balancer.
pub async fn trial(
    kind: BalancerKind,
    nodes: &[SocketAddr],
    policy: Policy,
) -> anyhow::Result<Trial> {
    match kind {
        BalancerKind::Netlab => sticky::netlab_trial(nodes, policy).await,
        BalancerKind::Haproxy => {
            let front = haproxy::free_port()?;
            let h = haproxy::Haproxy::start(front, nodes, policy).await?;
            let clients = sticky::clients_through(h.front).await;
            h.stop().await;
            Ok(Trial {
                balancer: "haproxy".to_owned(),
                policy,
                clients,
                connections_per_node: None,
            })
        }
    }
}
