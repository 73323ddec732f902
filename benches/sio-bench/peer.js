// The Node peer of sio-bench: socket.io 4.8 running the same small app as
// `netlab socketio server --app bench` and the socketioxide peer. Prints its port.
//
//   echo X (with an ack)   acknowledged with X
//   join ROOM (ack)        the sender joins ROOM; acknowledged with ROOM
//   broadcast X            everyone but the sender gets `broadcast X`
//   room ROOM X            everyone in ROOM gets `room ROOM X`
//
// socket.io is found through NODE_PATH (sio-bench sets it from NETLAB_NODE_MODULES).
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });

io.on("connection", (socket) => {
  socket.on("echo", (x, ack) => {
    if (typeof ack === "function") ack(x);
    else socket.emit("echo", x);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(room);
  });
  socket.on("broadcast", (x) => socket.broadcast.emit("broadcast", x));
  socket.on("room", (room, x) => io.to(room).emit("room", room, x));
});

httpServer.listen(0, "127.0.0.1", () => console.log(httpServer.address().port));
