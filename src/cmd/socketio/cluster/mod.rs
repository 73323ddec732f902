//! `netlab socketio cluster`: several netlab Socket.IO nodes on loopback, in this process.
//!
//! 1. Sticky sessions ([`sticky`]): a balancer in front of the nodes (netlab's own,
//!    `net::balancer`, or a real haproxy, [`haproxy`]) with each policy in turn, and six
//!    clients through it: long-polling ones fail under round robin (`Session ID unknown`),
//!    WebSocket ones do not care, and stickiness by source address or cookie fixes polling.
//! 2. The emit cheatsheet across nodes ([`across`]): six WebSocket clients in rooms and
//!    namespaces, spread over the nodes; who received each line. The part takes the
//!    nodes' URLs only, so it runs the same on nodes with and without an adapter.
//! 3. A node killed during a numbered broadcast stream ([`kill`]), with and without
//!    connection state recovery: what each client missed.
//!
//! A Redis is prepared for the nodes ([`redis`]): the one given, or a private
//! `redis-server` when one is installed. When it answers, the nodes share broadcasts
//! through it (the Redis adapter, `net::socketio::adapter`); otherwise they run without
//! an adapter, and the part with a node killed is left out.

pub mod across;
pub mod haproxy;
pub mod kill;
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
    /// How the nodes share broadcasts: `redis` (the Redis adapter) or `none` (each knows
    /// only its own sockets).
    pub adapter: &'static str,
    pub sticky: Vec<Trial>,
    pub across: Across,
    /// A node killed during a stream; only with the adapter.
    pub killed: Option<kill::Killed>,
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
    let setup = node::Setup {
        redis: redis.usable_url().and_then(|u| u.parse().ok()),
        recovery: false,
    };
    let nodes = match node::start_nodes_with(plan.nodes, &setup).await {
        Ok(n) => n,
        Err(e) => {
            drop(private);
            return Err(e);
        }
    };
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
    let killed = match (&result, setup.redis.is_some()) {
        (Ok(_), true) => Some(kill::run(plan.nodes, &setup).await),
        _ => None,
    };
    if let Some(p) = private {
        p.stop().await;
    }
    let (sticky, across) = result?;
    let killed = killed.transpose()?;
    let infos = urls
        .iter()
        .enumerate()
        .map(|(i, url)| NodeInfo {
            name: crate::net::balancer::node_name(i),
            url: url.clone(),
        })
        .collect();
    let adapter = if setup.redis.is_some() {
        "redis"
    } else {
        "none"
    };
    let findings = render::findings(&sticky, &across, adapter, killed.as_ref());
    Ok(ClusterReport {
        nodes: infos,
        redis,
        adapter,
        sticky,
        across,
        killed,
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
