// netlab's Socket.IO client, served by `netlab socketio server` at /socket.io/socket.io.js
// (where the real server serves its own). Small and written to be read: how a browser
// speaks Engine.IO 4 and Socket.IO 5 with nothing but fetch() and WebSocket.
//
//   const socket = io();                        // the namespace "/" of this page's server
//   const news = io("/news");                   // another namespace, same connection
//   socket.on("chat message", (msg) => ...);
//   socket.emit("chat message", "hi", (answer) => ...);   // a function last: an ack
//
// Two layers, as on the wire:
//
//   Socket.IO   packets like 2["chat message","hi"]     one Socket per namespace
//   Engine.IO   4 + that packet = one "message" packet   one Engine per server
//   transport   HTTP long-polling (GET/POST), then one WebSocket after the upgrade
//
// Left out on purpose: binary attachments, reconnection, connection state recovery.
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------
  // Engine.IO 4: one session with the server, over long-polling and then a WebSocket.
  // Packet types are one digit: 0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade,
  // 6 noop. Long-polling bodies hold several packets separated by the byte 0x1e.
  // ---------------------------------------------------------------------------------
  const SEPARATOR = "\x1e";

  class Engine {
    constructor(base, transports, events) {
      this.base = base; // http://host:port/socket.io/
      this.transports = transports; // ["polling", "websocket"] by default
      this.events = events; // { open, message, close }
      this.transport = null; // "polling" or "websocket": what carries packets now
      this.sid = null;
      this.buffer = []; // packets waiting for the transport
      this.posting = false; // a POST is on its way (only one at a time)
      this.polling = false; // a GET is waiting for the server (only one at a time)
      this.upgrading = false; // the WebSocket answered the probe: stop polling
      this.ws = null;
      this.closed = false;
    }

    url(transport) {
      let u = this.base + "?EIO=4&transport=" + transport;
      if (this.sid) u += "&sid=" + encodeURIComponent(this.sid);
      if (transport === "websocket") return u.replace(/^http/, "ws");
      return u + "&t=" + Date.now().toString(36); // t: keeps caches away
    }

    open() {
      if (this.transports[0] === "polling") {
        this.transport = "polling";
        this.poll(); // the first GET has no sid: its answer is the open packet
      } else {
        this.openWebSocket(false);
      }
    }

    // The open packet: 0{"sid":..,"upgrades":["websocket"],"pingInterval":..,..}
    onOpen(info) {
      this.sid = info.sid;
      this.pingInterval = info.pingInterval;
      this.pingTimeout = info.pingTimeout;
      this.heartbeat();
      this.events.open();
      const canUpgrade = info.upgrades.includes("websocket");
      if (this.transport === "polling" && canUpgrade && this.transports.includes("websocket")) {
        this.openWebSocket(true);
      }
    }

    // One packet from the server, whatever carried it.
    onPacket(packet) {
      const type = packet[0];
      const data = packet.slice(1);
      if (type === "0") this.onOpen(JSON.parse(data));
      else if (type === "1") this.close("transport close");
      else if (type === "2") {
        // The server pings every pingInterval; we answer at once and restart the timer
        // that declares the server gone if no ping comes within interval + timeout.
        this.heartbeat();
        this.sendPacket("3");
      } else if (type === "4") this.events.message(data);
      // 3 (a pong: the answer to a probe), 6 (noop: ends a waiting GET) need nothing.
    }

    heartbeat() {
      clearTimeout(this.pingTimer);
      this.pingTimer = setTimeout(
        () => this.close("ping timeout"),
        this.pingInterval + this.pingTimeout
      );
    }

    // --- HTTP long-polling: a GET waits for what the server has; a POST carries ours.
    async poll() {
      if (this.closed || this.polling) return;
      this.polling = true;
      let body;
      try {
        const response = await fetch(this.url("polling"));
        if (!response.ok) throw new Error("HTTP " + response.status);
        body = await response.text();
      } catch (e) {
        this.polling = false;
        return this.close("transport error");
      }
      this.polling = false;
      body.split(SEPARATOR).forEach((p) => this.onPacket(p));
      // During an upgrade the server answers the waiting GET with a noop; no new GET.
      if (this.upgrading) this.finishUpgrade();
      else if (this.transport === "polling") this.poll();
    }

    async post() {
      if (this.posting || this.buffer.length === 0 || this.closed) return;
      this.posting = true;
      const body = this.buffer.splice(0).join(SEPARATOR);
      try {
        const response = await fetch(this.url("polling"), {
          method: "POST",
          headers: { "Content-Type": "text/plain;charset=UTF-8" },
          body,
        });
        if (!response.ok) throw new Error("HTTP " + response.status);
      } catch (e) {
        this.posting = false;
        return this.close("transport error");
      }
      this.posting = false;
      this.flush(); // what was queued meanwhile
    }

    // --- WebSocket: one Engine.IO packet per WebSocket message.
    // As an upgrade (with our sid): send "2probe", expect "3probe", wait until no GET or
    // POST is pending, then send "5": from then on only the WebSocket is used.
    openWebSocket(upgrade) {
      const ws = new WebSocket(this.url("websocket"));
      ws.onopen = () => {
        if (upgrade) ws.send("2probe");
        else this.useWebSocket(ws);
      };
      ws.onmessage = (e) => {
        if (upgrade && !this.upgrading && e.data === "3probe") {
          this.upgrading = true;
          this.ws = ws;
          if (!this.polling) this.finishUpgrade();
        } else if (this.transport === "websocket") {
          this.onPacket(e.data);
        }
      };
      ws.onclose = () => {
        if (this.transport === "websocket") this.close("transport close");
      };
      ws.onerror = () => {}; // onclose follows
    }

    finishUpgrade() {
      if (this.posting) return setTimeout(() => this.finishUpgrade(), 10);
      this.ws.send("5");
      this.useWebSocket(this.ws);
    }

    useWebSocket(ws) {
      this.ws = ws;
      this.transport = "websocket";
      this.upgrading = false;
      this.flush();
    }

    // --- Sending: Socket.IO text goes out as a message packet, "4" + text.
    send(text) {
      this.sendPacket("4" + text);
    }

    sendPacket(packet) {
      this.buffer.push(packet);
      this.flush();
    }

    flush() {
      if (this.closed || !this.sid) return;
      if (this.transport === "websocket") {
        this.buffer.splice(0).forEach((p) => this.ws.send(p));
      } else if (!this.upgrading) {
        this.post(); // while upgrading, packets wait for the WebSocket
      }
    }

    close(reason) {
      if (this.closed) return;
      if (reason === "io client disconnect") {
        // Say goodbye: a close packet on the current transport.
        if (this.transport === "websocket") this.ws.send("1");
        else fetch(this.url("polling"), { method: "POST", body: "1" }).catch(() => {});
      }
      this.closed = true;
      clearTimeout(this.pingTimer);
      if (this.ws) this.ws.close();
      this.events.close(reason);
    }
  }

  // ---------------------------------------------------------------------------------
  // Socket.IO 5: packets carried in Engine.IO messages, written
  //   <type>[<namespace>,][<ack id>][<JSON>]
  // types: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR (5 and 6 are the
  // binary forms, left out here). The namespace is written unless it is "/".
  // ---------------------------------------------------------------------------------
  function encode(type, nsp, id, data) {
    let s = String(type);
    if (nsp !== "/") s += nsp + ",";
    if (id !== undefined) s += id;
    if (data !== undefined) s += JSON.stringify(data);
    return s;
  }

  function decode(s) {
    const packet = { type: Number(s[0]), nsp: "/" };
    let i = 1;
    if (s[i] === "/") {
      const comma = s.indexOf(",", i);
      const end = comma === -1 ? s.length : comma;
      packet.nsp = s.slice(i, end);
      i = end + 1;
    }
    const digits = /^\d+/.exec(s.slice(i));
    if (digits) {
      packet.id = Number(digits[0]);
      i += digits[0].length;
    }
    if (i < s.length) packet.data = JSON.parse(s.slice(i));
    return packet;
  }

  // One Engine.IO connection shared by the sockets of every namespace (as the real
  // client's Manager): io("/") and io("/news") on one page use one session.
  class Manager {
    constructor(base, opts) {
      this.sockets = new Map(); // namespace → Socket
      this.engine = new Engine(base, opts.transports || ["polling", "websocket"], {
        open: () => this.sockets.forEach((s) => s.sendConnect()),
        message: (text) => this.onMessage(text),
        close: (reason) => this.sockets.forEach((s) => s.onClose(reason)),
      });
      this.opened = false;
    }

    socket(nsp, opts) {
      let s = this.sockets.get(nsp);
      if (!s) {
        s = new Socket(this, nsp, opts.auth);
        this.sockets.set(nsp, s);
        if (this.engine.sid) s.sendConnect();
      }
      if (!this.opened) {
        this.opened = true;
        this.engine.open();
      }
      return s;
    }

    onMessage(text) {
      let packet;
      try {
        packet = decode(text);
      } catch (e) {
        return this.engine.close("parse error");
      }
      const socket = this.sockets.get(packet.nsp);
      if (socket) socket.onPacket(packet);
    }

    // A socket left its namespace; the last one closes the connection.
    remove(socket) {
      this.sockets.delete(socket.nsp);
      if (this.sockets.size === 0) this.engine.close("io client disconnect");
    }
  }

  class Socket {
    constructor(manager, nsp, auth) {
      this.io = manager;
      this.nsp = nsp;
      this.auth = auth;
      this.id = undefined; // given by the server in its CONNECT answer
      this.connected = false;
      this.listeners = new Map(); // event → [functions]
      this.anyListeners = [];
      this.acks = new Map(); // ack id → callback
      this.nextAckId = 0;
      this.sendBuffer = []; // emits made before the namespace was joined
    }

    // CONNECT, with the auth payload if any: 0/news,{"token":"…"}
    sendConnect() {
      this.io.engine.send(encode(0, this.nsp, undefined, this.auth));
    }

    on(event, fn) {
      if (!this.listeners.has(event)) this.listeners.set(event, []);
      this.listeners.get(event).push(fn);
      return this;
    }

    onAny(fn) {
      this.anyListeners.push(fn);
      return this;
    }

    fire(event, ...args) {
      (this.listeners.get(event) || []).forEach((fn) => fn(...args));
    }

    // EVENT: 2["name",…args]; with a function last, an ack id goes between: 2["name"]
    // becomes 212["name"] for id 12, and the server's ACK 312[…] calls the function.
    emit(event, ...args) {
      let id;
      if (typeof args[args.length - 1] === "function") {
        id = this.nextAckId++;
        this.acks.set(id, args.pop());
      }
      const packet = encode(2, this.nsp, id, [event, ...args]);
      if (this.connected) this.io.engine.send(packet);
      else this.sendBuffer.push(packet);
      return this;
    }

    onPacket(p) {
      if (p.type === 0) {
        // CONNECT answer: {"sid":"…"}, this socket's id (not the Engine.IO sid).
        this.id = p.data.sid;
        this.connected = true;
        this.sendBuffer.splice(0).forEach((s) => this.io.engine.send(s));
        this.fire("connect");
      } else if (p.type === 1) {
        this.onClose("io server disconnect");
      } else if (p.type === 2 && Array.isArray(p.data)) {
        const [event, ...args] = p.data;
        // The server asks for an ack: hand the listener a function that sends it.
        if (p.id !== undefined) {
          args.push((...answer) => this.io.engine.send(encode(3, this.nsp, p.id, answer)));
        }
        this.anyListeners.forEach((fn) => fn(event, ...args));
        this.fire(event, ...args);
      } else if (p.type === 3) {
        const callback = this.acks.get(p.id);
        this.acks.delete(p.id);
        if (callback) callback(...(p.data || []));
      } else if (p.type === 4) {
        // CONNECT_ERROR: {"message":"Invalid namespace"} or a middleware's refusal.
        const err = new Error(p.data && p.data.message);
        err.data = p.data && p.data.data;
        this.fire("connect_error", err);
      }
    }

    onClose(reason) {
      if (!this.connected) return;
      this.connected = false;
      this.fire("disconnect", reason);
    }

    // DISCONNECT: 1 (or 1/news,), then leave; the last socket closes the connection.
    disconnect() {
      if (this.connected) this.io.engine.send(encode(1, this.nsp));
      this.onClose("io client disconnect");
      this.io.remove(this);
      return this;
    }
  }

  // io(url?, opts?): a socket for the namespace in url's path ("/" when none), over the
  // connection to that server, opened on first use. opts: {transports, auth, forceNew,
  // path} as the real client's.
  const managers = new Map();

  function io(url, opts) {
    if (typeof url === "object") [url, opts] = [undefined, url];
    opts = opts || {};
    const where = new URL(url || "/", location.href);
    const nsp = where.pathname === "" ? "/" : where.pathname;
    const base = where.origin + (opts.path || "/socket.io/");
    let manager = managers.get(base);
    if (!manager || opts.forceNew || manager.engine.closed || manager.sockets.has(nsp)) {
      manager = new Manager(base, opts);
      if (!opts.forceNew) managers.set(base, manager);
    }
    return manager.socket(nsp, opts);
  }

  window.io = io;
})();
