//! The server across several nodes: the machine's side of the Redis adapter.
//!
//! With [`Server::enable_adapter`], every emit that is not `local` is delivered here as
//! before and also handed to the other nodes: [`Server::poll_adapter`] gives the driver
//! what to publish. What the other nodes publish comes back through
//! [`Server::adapter_message`], and is delivered to this node's sockets only (never
//! published again, or two nodes would echo a broadcast forever).
//!
//! ```text
//!   application ──emit──► Server ──► Send to this node's sockets
//!                            │
//!                            └──► poll_adapter(): Publish { channel, bytes } ──► Redis
//!   Redis ──► adapter_message(channel, bytes) ──► Server ──► Send to this node's sockets
//! ```
//!
//! A broadcast with an acknowledgement asks more of the nodes (the real adapter's
//! "broadcast with ack"): the sender publishes a request and asks Redis how many nodes
//! listen ([`AdapterOutput::CountServers`]); each other node answers how many of its
//! clients got the event, then forwards each client's answer. The emit completes when
//! every node has said its count and that many answers have come, or at its timeout.

use super::super::adapter::{
    Broadcast, Channels, RemoteEvent, RemoteFlags, Request, Response, PREFIX,
};
use super::super::events::{Emit, Flags};
use super::super::Data;
use super::requests::{Requests, REQUESTS_TIMEOUT};
use super::{AckWait, Server};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// What the machine asks of the driver's Redis connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterOutput {
    /// `PUBLISH channel payload`.
    Publish { channel: String, payload: Vec<u8> },
    /// `PUBSUB NUMSUB channel`: how many nodes listen; answer with
    /// [`Server::adapter_server_count`] (with 1, this node alone, if Redis cannot say).
    CountServers { channel: String, request_id: String },
}

/// The channels a node subscribes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// `PSUBSCRIBE`: the broadcasts of each namespace (`socket.io#/#*`).
    pub patterns: Vec<String>,
    /// `SUBSCRIBE`: the request and response channels of each namespace.
    pub channels: Vec<String>,
}

/// The remote half of an emit with ack that this node sent.
#[derive(Debug, Clone, Default)]
pub(super) struct RemoteAcks {
    request_id: String,
    /// Other nodes listening (Redis's count less this node), once Redis has said.
    servers: Option<u64>,
    /// Nodes that have said how many of their clients got the event.
    counted: u64,
    /// Their clients, in all.
    clients: u64,
    answers: u64,
}

impl RemoteAcks {
    fn complete(&self) -> bool {
        self.servers == Some(self.counted) && self.answers >= self.clients
    }
}

/// The adapter's state in the machine.
#[derive(Debug)]
pub(super) struct Cluster {
    pub(super) uid: String,
    outbox: VecDeque<AdapterOutput>,
    /// Request ids this node gives (with its uid, unique across nodes).
    next_request: u64,
    /// The emits with ack of this node awaiting other nodes: request id → (namespace, ack id).
    mine: BTreeMap<String, (String, u64)>,
    pub(super) requests: Requests,
}

impl Cluster {
    pub(super) fn push(&mut self, out: AdapterOutput) {
        self.outbox.push_back(out);
    }

    /// A request id no other node gives (it starts with this node's uid).
    pub(super) fn fresh_request_id(&mut self) -> String {
        self.next_request += 1;
        format!("{}-{}", self.uid, self.next_request - 1)
    }
}

impl AckWait {
    /// Every answer this emit waits for has come (here and on the other nodes).
    pub(super) fn complete(&self) -> bool {
        self.waiting.is_empty() && self.remote.as_ref().is_none_or(RemoteAcks::complete)
    }
}

fn remote_flags(flags: Flags) -> RemoteFlags {
    RemoteFlags {
        volatile: flags.volatile,
        compress: (!flags.compress).then_some(false),
        timeout: flags.timeout,
    }
}

impl Server {
    /// Work with the other nodes of a cluster through the Redis adapter; `uid` names this
    /// node (the real adapter draws 6 random characters).
    pub fn enable_adapter(&mut self, uid: &str) {
        self.cluster = Some(Cluster {
            uid: uid.to_owned(),
            outbox: VecDeque::new(),
            next_request: 0,
            mine: BTreeMap::new(),
            requests: Requests::default(),
        });
    }

    /// What to subscribe to: the channels of every namespace.
    pub fn adapter_subscriptions(&self) -> Subscriptions {
        let mut subs = Subscriptions::default();
        for name in self.namespaces.keys() {
            let c = Channels::new(PREFIX, name);
            subs.patterns.push(c.broadcast_pattern());
            subs.channels.push(c.request);
            subs.channels.push(c.response);
        }
        subs
    }

    /// The next thing to do on Redis.
    pub fn poll_adapter(&mut self) -> Option<AdapterOutput> {
        self.cluster.as_mut()?.outbox.pop_front()
    }

    pub(super) fn publish(&mut self, channel: String, payload: Vec<u8>) {
        if let Some(c) = &mut self.cluster {
            c.outbox
                .push_back(AdapterOutput::Publish { channel, payload });
        }
    }

    /// Hand an emit to the other nodes (called by `emit` for one that is not local; `ack`
    /// is the id this node's clients answer to, when the emit asks for answers).
    pub(super) fn publish_emit(&mut self, namespace: &str, emit: Emit, ack: Option<u64>) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let channels = Channels::new(PREFIX, namespace);
        let event = RemoteEvent {
            namespace: namespace.to_owned(),
            name: emit.name,
            args: emit.args,
        };
        let flags = remote_flags(emit.flags);
        let uid = cluster.uid.clone();
        let Some(id) = ack else {
            let channel = channels.broadcast_for(&emit.target);
            let payload = Broadcast {
                uid,
                event,
                target: emit.target,
                flags,
            }
            .encode();
            return self.publish(channel, payload);
        };
        let request_id = cluster.fresh_request_id();
        cluster
            .mine
            .insert(request_id.clone(), (namespace.to_owned(), id));
        cluster.outbox.push_back(AdapterOutput::CountServers {
            channel: channels.request.clone(),
            request_id: request_id.clone(),
        });
        let request = Request::Broadcast {
            uid,
            request_id: request_id.clone(),
            event,
            target: emit.target,
            flags,
        };
        self.publish(channels.request, request.encode());
        if let Some(wait) = self.ack_wait(namespace, id) {
            wait.remote = Some(RemoteAcks {
                request_id,
                ..RemoteAcks::default()
            });
        }
    }

    pub(super) fn ack_wait(&mut self, namespace: &str, id: u64) -> Option<&mut AckWait> {
        self.namespaces.get_mut(namespace)?.acks.get_mut(&id)
    }

    /// Redis's answer to [`AdapterOutput::CountServers`]: `count` nodes listen, this one
    /// among them.
    pub fn adapter_server_count(&mut self, request_id: &str, count: u64) {
        if self.request_count(request_id, count) {
            return;
        }
        let Some((namespace, id)) = self.mine_of(request_id) else {
            return;
        };
        if let Some(remote) = self
            .ack_wait(&namespace, id)
            .and_then(|w| w.remote.as_mut())
        {
            remote.servers = Some(count.saturating_sub(1));
        }
        self.check_ack(&namespace, id);
    }

    fn mine_of(&self, request_id: &str) -> Option<(String, u64)> {
        self.cluster.as_ref()?.mine.get(request_id).cloned()
    }

    fn check_ack(&mut self, namespace: &str, id: u64) {
        if self.ack_wait(namespace, id).is_some_and(|w| w.complete()) {
            self.complete_ack(namespace, id);
        }
    }

    /// An emit with ack of this node ended: forget its request.
    pub(super) fn forget_request(&mut self, wait: &AckWait) {
        if let (Some(c), Some(r)) = (&mut self.cluster, &wait.remote) {
            c.mine.remove(&r.request_id);
        }
    }

    /// A client of this node answered an emit that another node asked for: forward the
    /// answer (its first argument, as the real adapter does).
    pub(super) fn relay_answer(&mut self, request_id: &str, namespace: &str, args: &[Data]) {
        let value = args
            .first()
            .cloned()
            .unwrap_or(Data::Json(serde_json::Value::Null));
        let response = Response::Ack {
            request_id: request_id.to_owned(),
            value,
        };
        self.publish(Channels::new(PREFIX, namespace).response, response.encode());
    }

    /// A message another node published, on `channel`. What this node may not read is
    /// skipped (the adapter's rule: a node ignores what it does not understand); the
    /// error says why, for the driver to count or show.
    pub fn adapter_message(
        &mut self,
        channel: &str,
        payload: &[u8],
        now: Duration,
    ) -> Result<(), super::super::adapter::AdapterError> {
        self.tick(now);
        let Some(uid) = self.cluster.as_ref().map(|c| c.uid.clone()) else {
            return Ok(());
        };
        let names: Vec<String> = self.namespaces.keys().cloned().collect();
        for namespace in names {
            let c = Channels::new(PREFIX, &namespace);
            if channel == c.response {
                let response = Response::decode(payload)?;
                self.response(&namespace, response);
                return Ok(());
            }
            if channel == c.request {
                let request = Request::decode(payload)?;
                if request.uid() != uid {
                    self.request(&namespace, request, now);
                }
                return Ok(());
            }
            if channel.starts_with(&c.broadcast) {
                let broadcast = Broadcast::decode(payload)?;
                if broadcast.uid != uid && broadcast.event.namespace == namespace {
                    self.deliver(
                        &namespace,
                        broadcast.event,
                        broadcast.target,
                        broadcast.flags,
                        false,
                        now,
                    );
                }
                return Ok(());
            }
        }
        Ok(())
    }

    /// Deliver another node's emit to this node's sockets only.
    fn deliver(
        &mut self,
        namespace: &str,
        event: RemoteEvent,
        target: super::super::Target,
        flags: RemoteFlags,
        ack: bool,
        now: Duration,
    ) -> Option<u64> {
        let emit = Emit {
            target,
            name: event.name,
            args: event.args,
            flags: Flags {
                volatile: flags.volatile,
                compress: flags.compress.unwrap_or(true),
                ack,
                // A wait for another node always ends: its answers matter only so long.
                timeout: flags.timeout.or(ack.then_some(REQUESTS_TIMEOUT)),
                local: true,
            },
        };
        self.emit(namespace, emit, now).ok().flatten()
    }

    fn request(&mut self, namespace: &str, request: Request, now: Duration) {
        match request {
            Request::Broadcast {
                request_id,
                event,
                target,
                flags,
                ..
            } => self.relay_broadcast(namespace, request_id, event, target, flags, now),
            other => self.cluster_request(namespace, other),
        }
    }

    /// Another node's emit with ack: deliver it here, say to how many clients, and mark
    /// the wait so each answer is forwarded as it comes.
    fn relay_broadcast(
        &mut self,
        namespace: &str,
        request_id: String,
        event: RemoteEvent,
        target: super::super::Target,
        flags: RemoteFlags,
        now: Duration,
    ) {
        // Nobody here: nothing to send, nothing to wait for.
        let here = self
            .namespaces
            .get(namespace)
            .map(|n| n.rooms.select(&target).len());
        if here.unwrap_or(0) == 0 {
            let response = Response::ClientCount {
                request_id,
                count: 0,
            };
            return self.publish(Channels::new(PREFIX, namespace).response, response.encode());
        }
        let id = self.deliver(namespace, event, target, flags, true, now);
        let wait = id.and_then(|id| self.ack_wait(namespace, id));
        let count = match wait {
            Some(wait) => {
                wait.relay = Some(request_id.clone());
                wait.expected as u64
            }
            None => 0,
        };
        let response = Response::ClientCount { request_id, count };
        self.publish(Channels::new(PREFIX, namespace).response, response.encode());
    }

    fn response(&mut self, namespace: &str, response: Response) {
        let Some(request_id) = response.request_id().map(str::to_owned) else {
            return;
        };
        if let Some((ns, id)) = self.mine_of(&request_id).filter(|(ns, _)| ns == namespace) {
            self.ack_response(&ns, id, response);
            return;
        }
        self.request_response(namespace, &request_id, response);
    }

    /// Another node's part of this node's emit with ack.
    fn ack_response(&mut self, namespace: &str, id: u64, response: Response) {
        let Some(wait) = self.ack_wait(namespace, id) else {
            return;
        };
        let Some(remote) = wait.remote.as_mut() else {
            return;
        };
        match response {
            Response::ClientCount { count, .. } => {
                remote.counted += 1;
                remote.clients += count;
                wait.expected += usize::try_from(count).unwrap_or(usize::MAX);
            }
            Response::Ack { value, .. } => {
                remote.answers += 1;
                // The adapter does not say which client answered.
                wait.responses.push((String::new(), vec![value]));
            }
            _ => return,
        }
        self.check_ack(namespace, id);
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::{Action, AppEvent, EngineMessage, Options};
    use super::*;
    use serde_json::json;

    /// A node named `uid` whose sessions `{uid}1`, `{uid}2` hold sockets `{uid}-s1`, `{uid}-s2`.
    fn node(uid: &str) -> Server {
        let prefix = uid.to_owned();
        let mut n = 0;
        let mut io = Server::new(
            Options::default(),
            Box::new(move || {
                n += 1;
                format!("{prefix}-s{n}")
            }),
        );
        io.enable_adapter(uid);
        for i in 1..=2 {
            let session = format!("{uid}{i}");
            io.open(&session, Duration::ZERO);
            io.message(&session, EngineMessage::Text("0".into()), Duration::ZERO);
        }
        io.drain_actions();
        io
    }

    /// Carry what `from` publishes to `to` (and back to `from`, as Redis does with a
    /// pattern that matches its own channels); `servers` nodes listen.
    fn redis(from: &mut Server, to: &mut Server, servers: u64) -> usize {
        let mut carried = 0;
        while let Some(out) = from.poll_adapter() {
            match out {
                AdapterOutput::Publish { channel, payload } => {
                    to.adapter_message(&channel, &payload, Duration::ZERO)
                        .unwrap();
                    from.adapter_message(&channel, &payload, Duration::ZERO)
                        .unwrap();
                    carried += 1;
                }
                AdapterOutput::CountServers { request_id, .. } => {
                    from.adapter_server_count(&request_id, servers)
                }
            }
        }
        carried
    }

    /// `(session, text)` sent by `io` since the last call.
    fn sent(io: &mut Server) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for action in io.drain_actions() {
            if let Action::Send {
                session, messages, ..
            } = action
            {
                if let Some(EngineMessage::Text(t)) = messages.first() {
                    out.push((session, t.clone()));
                }
            }
        }
        out
    }

    fn to(sessions: &[&str], text: &str) -> Vec<(String, String)> {
        sessions
            .iter()
            .map(|s| (s.to_string(), text.to_owned()))
            .collect()
    }

    #[test]
    fn broadcasts_reach_the_other_node_once_and_local_stays_here() {
        let (mut a, mut b) = (node("A"), node("B"));
        b.socket("/", "B-s1").join("r1").unwrap();
        a.socket("/", "A-s2").join("r1").unwrap();
        a.of("/").emit("hi", vec![json!(1).into()]).unwrap();
        assert_eq!(sent(&mut a), to(&["A1", "A2"], r#"2["hi",1]"#));
        assert_eq!(redis(&mut a, &mut b, 2), 1);
        // Delivered on B, and not published again (B's outbox stays empty).
        assert_eq!(sent(&mut b), to(&["B1", "B2"], r#"2["hi",1]"#));
        assert_eq!(b.poll_adapter(), None);
        assert!(sent(&mut a).is_empty(), "A skips its own message");
        a.to("r1").except("A-s2").emit("room", vec![]).unwrap();
        assert!(sent(&mut a).is_empty());
        redis(&mut a, &mut b, 2);
        assert_eq!(sent(&mut b), to(&["B1"], r#"2["room"]"#));
        a.of("/").local().emit("here", vec![]).unwrap();
        assert_eq!(redis(&mut a, &mut b, 2), 0);
        assert!(sent(&mut b).is_empty());
        // An emit to one socket of this node is local too.
        a.socket("/", "A-s1").emit("you", vec![]).unwrap();
        assert_eq!(redis(&mut a, &mut b, 2), 0);
        // Binary goes across as binary and arrives as an attachment.
        a.of("/")
            .emit("bin", vec![Data::Binary(vec![1, 2])])
            .unwrap();
        sent(&mut a);
        redis(&mut a, &mut b, 2);
        assert_eq!(
            sent(&mut b),
            to(&["B1", "B2"], r#"51-["bin",{"_placeholder":true,"num":0}]"#)
        );
    }

    #[test]
    fn acknowledgements_come_back_from_the_other_node() {
        let (mut a, mut b) = (node("A"), node("B"));
        let id = a
            .of("/")
            .timeout(Duration::from_secs(5))
            .emit_with_ack("ask", vec![])
            .unwrap();
        sent(&mut a);
        redis(&mut a, &mut b, 2);
        let asked = sent(&mut b);
        assert_eq!(asked.len(), 2);
        // B counted its two clients.
        redis(&mut b, &mut a, 2);
        for (i, (session, text)) in asked.iter().enumerate() {
            let id_b: u64 = text[1..text.find('[').unwrap()].parse().unwrap();
            b.message(
                session,
                EngineMessage::Text(format!("3{id_b}[{i}]")),
                Duration::ZERO,
            );
        }
        a.message(
            "A1",
            EngineMessage::Text(format!("3{id}[\"a1\"]")),
            Duration::ZERO,
        );
        redis(&mut b, &mut a, 2);
        assert!(
            b.drain_actions().is_empty(),
            "B's application hears nothing"
        );
        assert!(a.drain_actions().is_empty(), "still waiting for A2");
        a.message(
            "A2",
            EngineMessage::Text(format!("3{id}[\"a2\"]")),
            Duration::ZERO,
        );
        let [Action::App(AppEvent::Acked { responses, .. })] = &a.drain_actions()[..] else {
            panic!("one Acked");
        };
        let mut values: Vec<String> = responses
            .iter()
            .map(|(_, v)| format!("{:?}", v[0]))
            .collect();
        values.sort();
        assert_eq!(values.len(), 4, "{values:?}");
        assert!(values.contains(&format!("{:?}", Data::from(json!(1)))));
    }

    #[test]
    fn an_emit_with_ack_times_out_when_a_node_never_answers() {
        let (mut a, mut b) = (node("A"), node("B"));
        a.of("/")
            .timeout(Duration::from_secs(1))
            .emit_with_ack("ask", vec![])
            .unwrap();
        sent(&mut a);
        // Three nodes listen, but only B exists.
        redis(&mut a, &mut b, 3);
        assert_eq!(sent(&mut b).len(), 2);
        redis(&mut b, &mut a, 3);
        for s in ["A1", "A2"] {
            a.message(s, EngineMessage::Text("30[]".into()), Duration::ZERO);
        }
        assert!(a.drain_actions().is_empty());
        a.handle_timeout(Duration::from_secs(1));
        let [Action::App(AppEvent::AckTimedOut { expected, .. })] = &a.drain_actions()[..] else {
            panic!("one AckTimedOut");
        };
        assert_eq!(*expected, 4);
        b.handle_timeout(Duration::from_secs(1));
        assert!(b.drain_actions().is_empty(), "B's own wait ends silently");
    }

    fn app_events(io: &mut Server) -> Vec<AppEvent> {
        io.drain_actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::App(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn requests_between_nodes() {
        let (mut a, mut b) = (node("A"), node("B"));
        b.socket("/", "B-s2").join("r1").unwrap();
        let id = a.of("/").fetch_sockets().unwrap();
        redis(&mut a, &mut b, 2);
        redis(&mut b, &mut a, 2);
        let [AppEvent::FetchedSockets {
            id: got,
            sockets,
            complete: true,
            ..
        }] = &app_events(&mut a)[..]
        else {
            panic!("one complete FetchedSockets");
        };
        assert_eq!(*got, id);
        let ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["A-s1", "A-s2", "B-s1", "B-s2"]);
        assert_eq!(sockets[3].rooms, ["B-s2", "r1"]);
        // socketsJoin on every node, then a broadcast to that room reaches them all.
        a.of("/").sockets_join("r2").unwrap();
        redis(&mut a, &mut b, 2);
        assert_eq!(b.rooms_of("/", "B-s1"), ["B-s1", "r2"]);
        a.of("/").to("r1").disconnect_sockets(false).unwrap();
        redis(&mut a, &mut b, 2);
        assert_eq!(b.sockets("/"), ["B-s1"]);
        // A server-side emit with ack: B's application answers.
        let id = a
            .of("/")
            .server_side_emit_with_ack("hello", vec![json!("hi").into()])
            .unwrap();
        redis(&mut a, &mut b, 2);
        let events = app_events(&mut b);
        let Some(AppEvent::ServerSideEmit {
            name,
            ack: Some(owed),
            ..
        }) = events.last()
        else {
            panic!("{events:?}");
        };
        assert_eq!(name, "hello");
        b.server_side_ack(*owed, json!("yes").into()).unwrap();
        assert!(b.server_side_ack(*owed, json!("again").into()).is_err());
        redis(&mut b, &mut a, 2);
        assert_eq!(
            app_events(&mut a),
            [AppEvent::ServerSideAcked {
                namespace: "/".into(),
                id,
                responses: vec![json!("yes").into()],
                complete: true
            }]
        );
    }

    #[test]
    fn a_request_ends_incomplete_when_a_node_is_silent() {
        let (mut a, mut b) = (node("A"), node("B"));
        a.of("/").fetch_sockets().unwrap();
        redis(&mut a, &mut b, 3);
        redis(&mut b, &mut a, 3);
        assert!(app_events(&mut a).is_empty());
        assert_eq!(a.poll_timeout(), Some(super::super::REQUESTS_TIMEOUT));
        a.handle_timeout(super::super::REQUESTS_TIMEOUT);
        let [AppEvent::FetchedSockets {
            sockets,
            complete: false,
            ..
        }] = &app_events(&mut a)[..]
        else {
            panic!("one incomplete FetchedSockets");
        };
        assert_eq!(sockets.len(), 4, "what came is kept");
    }
}
