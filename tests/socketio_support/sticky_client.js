// The reference Socket.IO client (socket.io-client 4) through a balancer at argv[2], with
// the transports in argv[3] ("polling" or "websocket") and, when argv[4] is "cookies",
// `withCredentials: true` (in Node the client then keeps the cookies it is given, as a
// browser does). No reconnection. Prints one JSON line per thing that happens, for
// tests/socketio_sticky.rs:
//   {"event":"connect","id":"…"}                   the socket joined `/`
//   {"event":"ack","node":"n1"}                    the answer to `where`: the node reached
//   {"event":"connect_error","message":"…"}        the session or the namespace failed
//   {"event":"disconnect","reason":"…"}
//   {"event":"end"}                                after the ack, an error, or 5 s
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { io } = require(NM + "/socket.io-client");

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const socket = io(process.argv[2], {
  transports: [process.argv[3]],
  withCredentials: process.argv[4] === "cookies",
  reconnection: false,
  timeout: 3000,
});
const end = () => {
  out({ event: "end" });
  socket.close();
  process.exit(0);
};
socket.on("connect", () => {
  out({ event: "connect", id: socket.id });
  socket.emit("where", (answer) => {
    out({ event: "ack", node: answer.node });
    end();
  });
});
socket.on("connect_error", (e) => {
  out({ event: "connect_error", message: String(e.message) });
  end();
});
socket.on("disconnect", (reason) => {
  out({ event: "disconnect", reason });
  setTimeout(end, 100);
});
setTimeout(end, 5000);
