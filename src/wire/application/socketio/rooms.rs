//! Rooms, and who receives a broadcast.
//!
//! A room is a name for a set of sockets of one namespace, kept by the server only: the
//! client never hears of rooms. Each socket is in the room named by its own id from the
//! moment it connects, which is how "send to one socket" is a broadcast to a room.
//!
//! A broadcast names rooms to include and rooms to leave out ([`Target`]). The receivers
//! are every socket in at least one included room (each once, however many of those rooms
//! it is in), or every socket of the namespace when no room is named, minus every socket in
//! an excluded room. This is the in-memory adapter's rule in the real server.

use std::collections::{BTreeMap, BTreeSet};

/// The receivers of a broadcast, as rooms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Empty: the whole namespace.
    pub rooms: BTreeSet<String>,
    pub except: BTreeSet<String>,
}

impl Target {
    /// Every socket of the namespace.
    pub fn all() -> Target {
        Target::default()
    }

    /// The sockets in `room` (a socket's id names the room holding just that socket).
    pub fn room(room: impl Into<String>) -> Target {
        Target::all().to(room)
    }

    /// Add a room to the ones included (union).
    pub fn to(mut self, room: impl Into<String>) -> Target {
        self.rooms.insert(room.into());
        self
    }

    /// Leave out the sockets in `room`.
    pub fn except(mut self, room: impl Into<String>) -> Target {
        self.except.insert(room.into());
        self
    }
}

/// The rooms of one namespace, both ways: room to sockets, socket to rooms.
#[derive(Debug, Clone, Default)]
pub struct Rooms {
    members: BTreeMap<String, BTreeSet<String>>,
    of_socket: BTreeMap<String, BTreeSet<String>>,
}

impl Rooms {
    /// Put `socket` in `room` (nothing happens if it is there already).
    pub fn join(&mut self, socket: &str, room: &str) {
        self.members
            .entry(room.to_owned())
            .or_default()
            .insert(socket.to_owned());
        self.of_socket
            .entry(socket.to_owned())
            .or_default()
            .insert(room.to_owned());
    }

    /// Take `socket` out of `room`; a room left empty stops existing.
    pub fn leave(&mut self, socket: &str, room: &str) {
        if let Some(rooms) = self.of_socket.get_mut(socket) {
            rooms.remove(room);
        }
        if let Some(members) = self.members.get_mut(room) {
            members.remove(socket);
            if members.is_empty() {
                self.members.remove(room);
            }
        }
    }

    /// Take `socket` out of every room (it disconnected).
    pub fn leave_all(&mut self, socket: &str) {
        for room in self.of_socket.remove(socket).unwrap_or_default() {
            if let Some(members) = self.members.get_mut(&room) {
                members.remove(socket);
                if members.is_empty() {
                    self.members.remove(&room);
                }
            }
        }
    }

    /// The rooms `socket` is in (its own id among them), in name order.
    pub fn rooms_of(&self, socket: &str) -> Vec<String> {
        self.of_socket
            .get(socket)
            .map_or_else(Vec::new, |r| r.iter().cloned().collect())
    }

    /// Every room with a socket in it (each socket's own among them), in name order.
    pub fn names(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    /// The sockets in `room`.
    pub fn members(&self, room: &str) -> impl Iterator<Item = &String> {
        self.members.get(room).into_iter().flatten()
    }

    /// The receivers of a broadcast to `target`, each once, in id order.
    pub fn select(&self, target: &Target) -> BTreeSet<String> {
        let excluded: BTreeSet<&String> =
            target.except.iter().flat_map(|r| self.members(r)).collect();
        let included: Box<dyn Iterator<Item = &String>> = if target.rooms.is_empty() {
            Box::new(self.of_socket.keys())
        } else {
            Box::new(target.rooms.iter().flat_map(|r| self.members(r)))
        };
        included
            .filter(|s| !excluded.contains(s))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(set: BTreeSet<String>) -> Vec<String> {
        set.into_iter().collect()
    }

    /// Three sockets: a and b in "red", b and c in "blue" (each also in its own room).
    fn three() -> Rooms {
        let mut rooms = Rooms::default();
        for s in ["a", "b", "c"] {
            rooms.join(s, s);
        }
        rooms.join("a", "red");
        rooms.join("b", "red");
        rooms.join("b", "blue");
        rooms.join("c", "blue");
        rooms
    }

    #[test]
    fn several_rooms_are_a_union_with_each_socket_once() {
        let rooms = three();
        assert_eq!(
            ids(rooms.select(&Target::room("red").to("blue"))),
            ["a", "b", "c"]
        );
        assert_eq!(ids(rooms.select(&Target::room("red"))), ["a", "b"]);
    }

    #[test]
    fn except_removes_whole_rooms_and_single_sockets() {
        let rooms = three();
        assert_eq!(ids(rooms.select(&Target::all().except("a"))), ["b", "c"]);
        assert_eq!(
            ids(rooms.select(&Target::room("red").except("blue"))),
            ["a"]
        );
        assert!(rooms.select(&Target::room("nobody")).is_empty());
    }

    #[test]
    fn leaving_the_last_member_removes_the_room() {
        let mut rooms = three();
        rooms.leave("a", "red");
        rooms.leave_all("b");
        assert_eq!(rooms.members("red").count(), 0);
        assert_eq!(rooms.rooms_of("c"), ["blue", "c"]);
        assert_eq!(ids(rooms.select(&Target::all())), ["a", "c"]);
    }
}
