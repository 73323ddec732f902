//! `netlab socketio cluster`: several netlab Socket.IO nodes on loopback, in this process.
//!
//! 1. Sticky sessions ([`sticky`]): a balancer in front of the nodes (netlab's own,
//!    `net::balancer`, or a real haproxy, [`haproxy`]) with each policy in turn, and six
//!    clients through it: long-polling ones fail under round robin (`Session ID unknown`),
//!    WebSocket ones do not care, and stickiness by source address or cookie fixes polling.
//! 2. Broadcasts across nodes ([`across`]): six WebSocket clients spread over the nodes,
//!    `io.emit` and `io.local.emit` on the first node, who received each. The part takes
//!    the nodes' URLs only, so it runs the same on nodes that share an adapter.
//!
//! A Redis is prepared for the nodes ([`redis`]): the one given, or a private
//! `redis-server` when one is installed.

pub mod across;
pub mod haproxy;
pub mod node;
pub mod redis;
pub mod render;
pub mod sticky;

use crate::cli::socketio::{BalancerKind, ClusterArgs};
use crate::net::balancer::Policy;
use crate::output::Output;
use across::Across;
use redis::RedisState;
use serde::Serialize;
use std::net::SocketAddr;
use sticky::Trial;

/// The policies the sticky-session part tries, in order.
pub const POLICIES: [Policy; 3] = [Policy::RoundRobin, Policy::Source, Policy::Cookie];

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub nodes: usize,
    pub balancer: BalancerKind,
    pub redis: Option<String>,
}

impl TryFrom<ClusterArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ClusterArgs) -> anyhow::Result<Plan> {
        if let Some(url) = &a.redis {
            if !url.starts_with("redis://") {
                return Err(crate::error::usage(
                    format!("--redis {url}: not a Redis URL"),
                    "give it as redis://HOST:PORT, for example redis://127.0.0.1:6379",
                ));
            }
        }
        if a.balancer == BalancerKind::Haproxy && !haproxy::installed() {
            return Err(crate::error::usage(
                "--balancer haproxy: haproxy is not installed",
                "install it (Debian: apt-get install haproxy), or use --balancer netlab",
            ));
        }
        Ok(Plan {
            nodes: usize::from(a.nodes),
            balancer: a.balancer,
            redis: a.redis,
        })
    }
}

/// One node, as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    pub name: String,
    pub url: String,
}

/// Everything the cluster did and saw.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    pub nodes: Vec<NodeInfo>,
    pub redis: RedisState,
    /// How the nodes share broadcasts: `none` (each knows only its own sockets).
    pub adapter: &'static str,
    pub sticky: Vec<Trial>,
    pub across: Across,
    /// What the tables show, worked out from them.
    pub findings: Vec<String>,
}

/// Run the cluster and print its report.
pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let report = cluster(&plan).await?;
    out.report(&report)?;
    Ok(())
}

/// Run the cluster without printing.
pub async fn cluster(plan: &Plan) -> anyhow::Result<ClusterReport> {
    let (redis, private) = redis::prepare(plan.redis.as_deref()).await?;
    let nodes = node::start_nodes(plan.nodes).await?;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let urls: Vec<String> = nodes.iter().map(node::Node::url).collect();
    let result = async {
        let mut trials = Vec::new();
        for policy in POLICIES {
            trials.push(trial(plan.balancer, &addrs, policy).await?);
        }
        let across = across::run(&urls).await?;
        anyhow::Ok((trials, across))
    }
    .await;
    for n in nodes {
        n.stop().await;
    }
    if let Some(p) = private {
        p.stop().await;
    }
    let (sticky, across) = result?;
    let infos = urls
        .iter()
        .enumerate()
        .map(|(i, url)| NodeInfo {
            name: crate::net::balancer::node_name(i),
            url: url.clone(),
        })
        .collect();
    let findings = render::findings(&sticky, &across);
    Ok(ClusterReport {
        nodes: infos,
        redis,
        adapter: "none",
        sticky,
        across,
        findings,
    })
}

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
