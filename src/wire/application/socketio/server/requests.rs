//! Requests between nodes (the Redis adapter's request channel), both ways:
//!
//! | JavaScript | netlab | the other nodes |
//! |---|---|---|
//! | `io.fetchSockets()` | `io.of(ns).fetch_sockets()` → [`AppEvent::FetchedSockets`] | answer with their sockets |
//! | `io.socketsJoin(room)` / `io.socketsLeave(room)` | `io.of(ns).sockets_join(room)` / `sockets_leave` | apply it to theirs |
//! | `io.disconnectSockets(close)` | `io.of(ns).disconnect_sockets(close)` | disconnect theirs |
//! | `io.of(ns).adapter.allRooms()` | (not sent) | answer with their rooms |
//! | `io.serverSideEmit(name, ..)` | `io.of(ns).server_side_emit(name, args)` | [`AppEvent::ServerSideEmit`] |
//! | `io.timeout(t).serverSideEmit(name, .., cb)` | `.server_side_emit_with_ack(..)` → [`AppEvent::ServerSideAcked`] | answer with [`Server::server_side_ack`] |
//!
//! A request that awaits answers asks Redis how many nodes listen, and completes when
//! each other node has answered, or at its timeout (the real adapter's `requestsTimeout`,
//! 5 s) with what came, marked incomplete. Join, leave and disconnect await nothing.

use super::super::adapter::{Channels, RemoteSocket, Request, Response, PREFIX};
use super::super::events::{AppEvent, EmitError};
use super::super::{Data, Target};
use super::cluster::AdapterOutput;
use super::Server;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a request waits for the other nodes (the real adapter's default).
pub const REQUESTS_TIMEOUT: Duration = Duration::from_secs(5);

/// netlab's bound on the server-side emits from other nodes that the application has
/// not answered yet: past it, the oldest is forgotten.
const MAX_OWED: usize = 1024;

/// What a request of this node is collecting.
#[derive(Debug, Clone)]
enum Collecting {
    Sockets(Vec<RemoteSocket>),
    Answers(Vec<Data>),
}

/// A request of this node awaiting the other nodes.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    namespace: String,
    id: u64,
    /// Other nodes listening, once Redis has said.
    servers: Option<u64>,
    answered: u64,
    deadline: Duration,
    collecting: Collecting,
}

/// The requests of this node, and the answers it owes to other nodes' server-side emits.
#[derive(Debug, Default)]
pub(super) struct Requests {
    next_id: u64,
    pending: BTreeMap<String, Pending>,
    /// Server-side emits with ack from other nodes: id given to the application →
    /// (namespace, request id).
    owed: BTreeMap<u64, (String, String)>,
}

impl Server {
    fn requests(&mut self) -> Option<&mut Requests> {
        self.cluster.as_mut().map(|c| &mut c.requests)
    }

    /// The sockets of this node that `target` selects, as a fetch describes them.
    fn local_sockets(&self, namespace: &str, target: &Target) -> Vec<RemoteSocket> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Vec::new();
        };
        ns.rooms
            .select(target)
            .into_iter()
            .map(|id| RemoteSocket {
                rooms: ns.rooms.rooms_of(&id),
                id,
                data: Value::Null,
            })
            .collect()
    }

    /// Start a request that awaits the other nodes; returns its id for the application.
    fn start_request(&mut self, namespace: &str, request: Request, collecting: Collecting) -> u64 {
        let now = self.now;
        let Some(cluster) = &mut self.cluster else {
            return 0;
        };
        let id = cluster.requests.next_id;
        cluster.requests.next_id += 1;
        let request_id = request_id_of(&request);
        let channel = Channels::new(PREFIX, namespace).request;
        cluster.requests.pending.insert(
            request_id.clone(),
            Pending {
                namespace: namespace.to_owned(),
                id,
                servers: None,
                answered: 0,
                deadline: now.saturating_add(REQUESTS_TIMEOUT),
                collecting,
            },
        );
        cluster.push(AdapterOutput::CountServers {
            channel: channel.clone(),
            request_id,
        });
        cluster.push(AdapterOutput::Publish {
            channel,
            payload: request.encode(),
        });
        id
    }

    /// `io.fetchSockets()`: the sockets `target` selects on every node, as
    /// [`AppEvent::FetchedSockets`] with the id returned.
    pub fn fetch_sockets(&mut self, namespace: &str, target: Target) -> Result<u64, EmitError> {
        self.known(namespace)?;
        let local = self.local_sockets(namespace, &target);
        let Some(cluster) = &mut self.cluster else {
            let (namespace, id) = (namespace.to_owned(), 0);
            self.app(AppEvent::FetchedSockets {
                namespace,
                id,
                sockets: local,
                complete: true,
            });
            return Ok(id);
        };
        let request = Request::Fetch {
            uid: cluster.uid.clone(),
            request_id: cluster.fresh_request_id(),
            target,
        };
        Ok(self.start_request(namespace, request, Collecting::Sockets(local)))
    }

    /// `io.serverSideEmit(name, ..args)`, with `ack`: each other node answers once
    /// ([`AppEvent::ServerSideAcked`] with the id returned).
    pub fn server_side_emit(
        &mut self,
        namespace: &str,
        name: &str,
        args: Vec<Data>,
        ack: bool,
    ) -> Result<u64, EmitError> {
        self.known(namespace)?;
        let Some(cluster) = &mut self.cluster else {
            let namespace = namespace.to_owned();
            if ack {
                self.app(AppEvent::ServerSideAcked {
                    namespace,
                    id: 0,
                    responses: Vec::new(),
                    complete: true,
                });
            }
            return Ok(0);
        };
        let request_id = ack.then(|| cluster.fresh_request_id());
        let request = Request::ServerSideEmit {
            uid: cluster.uid.clone(),
            request_id,
            name: name.to_owned(),
            args,
        };
        if ack {
            return Ok(self.start_request(namespace, request, Collecting::Answers(Vec::new())));
        }
        let channel = Channels::new(PREFIX, namespace).request;
        self.publish(channel, request.encode());
        Ok(0)
    }

    /// Answer another node's server-side emit `id` ([`AppEvent::ServerSideEmit`]).
    pub fn server_side_ack(&mut self, id: u64, value: Data) -> Result<(), EmitError> {
        let owed = self.requests().and_then(|r| r.owed.remove(&id));
        let Some((namespace, request_id)) = owed else {
            return Err(EmitError::NoServerSideEmit(id));
        };
        let response = Response::ServerSideAck { request_id, value };
        self.publish(
            Channels::new(PREFIX, &namespace).response,
            response.encode(),
        );
        Ok(())
    }

    /// `io.socketsJoin(rooms)` / `io.socketsLeave(rooms)` for the sockets `target`
    /// selects, here and on every other node.
    pub fn sockets_rooms(
        &mut self,
        namespace: &str,
        target: Target,
        rooms: Vec<String>,
        join: bool,
    ) -> Result<(), EmitError> {
        self.known(namespace)?;
        self.apply_rooms(namespace, &target, &rooms, join);
        if let Some(cluster) = &self.cluster {
            let request = Request::Rooms {
                uid: cluster.uid.clone(),
                join,
                target,
                rooms,
            };
            self.publish(Channels::new(PREFIX, namespace).request, request.encode());
        }
        Ok(())
    }

    /// `io.disconnectSockets(close)` for the sockets `target` selects, on every node.
    pub fn disconnect_sockets(
        &mut self,
        namespace: &str,
        target: Target,
        close: bool,
    ) -> Result<(), EmitError> {
        self.known(namespace)?;
        self.apply_disconnect(namespace, &target, close);
        if let Some(cluster) = &self.cluster {
            let request = Request::Disconnect {
                uid: cluster.uid.clone(),
                target,
                close,
            };
            self.publish(Channels::new(PREFIX, namespace).request, request.encode());
        }
        Ok(())
    }

    fn known(&self, namespace: &str) -> Result<(), EmitError> {
        if self.namespaces.contains_key(namespace) {
            Ok(())
        } else {
            Err(EmitError::UnknownNamespace(namespace.to_owned()))
        }
    }

    fn apply_rooms(&mut self, namespace: &str, target: &Target, rooms: &[String], join: bool) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        for socket in ns.rooms.select(target) {
            for room in rooms {
                if join {
                    ns.rooms.join(&socket, room);
                } else {
                    ns.rooms.leave(&socket, room);
                }
            }
        }
    }

    fn apply_disconnect(&mut self, namespace: &str, target: &Target, close: bool) {
        let sockets = self
            .namespaces
            .get(namespace)
            .map(|ns| ns.rooms.select(target))
            .unwrap_or_default();
        let now = self.now;
        for socket in sockets {
            let _ = self.disconnect(namespace, &socket, close, now);
        }
    }

    // ---- from the other nodes ----------------------------------------------------------------

    /// A request of another node that is not a broadcast.
    pub(super) fn cluster_request(&mut self, namespace: &str, request: Request) {
        match request {
            Request::Fetch {
                request_id, target, ..
            } => {
                let sockets = self.local_sockets(namespace, &target);
                let response = Response::Sockets {
                    request_id,
                    sockets,
                };
                self.publish(Channels::new(PREFIX, namespace).response, response.encode());
            }
            Request::Rooms {
                join,
                target,
                rooms,
                ..
            } => self.apply_rooms(namespace, &target, &rooms, join),
            Request::Disconnect { target, close, .. } => {
                self.apply_disconnect(namespace, &target, close)
            }
            Request::ServerSideEmit {
                request_id,
                name,
                args,
                ..
            } => {
                let ack = match (request_id, self.requests()) {
                    (Some(request_id), Some(r)) => {
                        let id = r.next_id;
                        r.next_id += 1;
                        r.owed.insert(id, (namespace.to_owned(), request_id));
                        while r.owed.len() > MAX_OWED {
                            r.owed.pop_first();
                        }
                        Some(id)
                    }
                    _ => None,
                };
                let namespace = namespace.to_owned();
                self.app(AppEvent::ServerSideEmit {
                    namespace,
                    name,
                    args,
                    ack,
                });
            }
            Request::AllRooms { request_id, .. } => {
                let rooms = self
                    .namespaces
                    .get(namespace)
                    .map(|ns| ns.rooms.names())
                    .unwrap_or_default();
                let response = Response::Rooms { request_id, rooms };
                self.publish(Channels::new(PREFIX, namespace).response, response.encode());
            }
            Request::Broadcast { .. } | Request::Other { .. } => {}
        }
    }

    /// Redis says how many nodes listen; `true` if the request was one of these.
    pub(super) fn request_count(&mut self, request_id: &str, count: u64) -> bool {
        let Some(pending) = self.requests().and_then(|r| r.pending.get_mut(request_id)) else {
            return false;
        };
        pending.servers = Some(count.saturating_sub(1));
        self.check_request(request_id);
        true
    }

    /// An answer to a request of this node.
    pub(super) fn request_response(
        &mut self,
        namespace: &str,
        request_id: &str,
        response: Response,
    ) {
        let Some(pending) = self.requests().and_then(|r| r.pending.get_mut(request_id)) else {
            return;
        };
        if pending.namespace != namespace {
            return;
        }
        match (&mut pending.collecting, response) {
            (Collecting::Sockets(all), Response::Sockets { sockets, .. }) => all.extend(sockets),
            (Collecting::Answers(all), Response::ServerSideAck { value, .. }) => all.push(value),
            _ => return,
        }
        pending.answered += 1;
        self.check_request(request_id);
    }

    fn check_request(&mut self, request_id: &str) {
        let done = self
            .requests()
            .and_then(|r| r.pending.get(request_id))
            .is_some_and(|p| p.servers.is_some_and(|s| p.answered >= s));
        if done {
            self.finish_request(request_id, true);
        }
    }

    fn finish_request(&mut self, request_id: &str, complete: bool) {
        let Some(p) = self.requests().and_then(|r| r.pending.remove(request_id)) else {
            return;
        };
        let (namespace, id) = (p.namespace, p.id);
        self.app(match p.collecting {
            Collecting::Sockets(sockets) => AppEvent::FetchedSockets {
                namespace,
                id,
                sockets,
                complete,
            },
            Collecting::Answers(responses) => AppEvent::ServerSideAcked {
                namespace,
                id,
                responses,
                complete,
            },
        });
    }

    /// The earliest deadline of a request of this node.
    pub(super) fn requests_deadline(&self) -> Option<Duration> {
        let requests = &self.cluster.as_ref()?.requests;
        requests.pending.values().map(|p| p.deadline).min()
    }

    /// Requests past their deadline end with what came.
    pub(super) fn requests_timeout(&mut self, now: Duration) {
        let late: Vec<String> = self
            .requests()
            .map(|r| {
                r.pending
                    .iter()
                    .filter(|(_, p)| p.deadline <= now)
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        late.iter().for_each(|id| self.finish_request(id, false));
    }
}

fn request_id_of(request: &Request) -> String {
    match request {
        Request::Fetch { request_id, .. } | Request::Broadcast { request_id, .. } => {
            request_id.clone()
        }
        Request::ServerSideEmit {
            request_id: Some(id),
            ..
        } => id.clone(),
        _ => String::new(),
    }
}
