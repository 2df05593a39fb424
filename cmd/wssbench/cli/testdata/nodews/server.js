'use strict';
// A small chat server on the ws package: a third-party WebSocket target for
// wssbench's tests, so the harness is tested against something other than
// its own built-in target.
//
//   node server.js --cert CERT.pem --key KEY.pem [--host 127.0.0.1] [--port 0] [--rooms SIZE]
//
// It serves wss:// (and GET /stats) on one HTTPS port. When it listens it
// prints one line "listening PORT" on stdout; on SIGTERM (or SIGINT) it prints
// one line "stats {JSON}" and exits with status 0.
//
// Rooms: a connection to "/" joins the room "#N": with --rooms SIZE rooms
// of SIZE connections are filled in connection order ("#0" holds the first
// SIZE, "#1" the next SIZE, and so on; a place left by a closed connection is
// not refilled); without --rooms every connection to "/" is in "#0". A
// connection to any other path is in the room named by that path, query
// left off ("/room/a").
//
// Protocol: JSON frames, text or binary (a reply is always a text frame).
// On connect the server sends nothing.
//   {"type":"join","room":"R"}     moves the connection to room R (a string);
//                                  answer {"type":"joined","room":"R","members":N},
//                                  N counting the joiner.
//   {"type":"pub", ...anything}    the frame's bytes, unchanged and with its
//                                  opcode, go to every other member of the
//                                  sender's room; no answer.
//   {"type":"req","id":ID, ...}    answer {"type":"res","id":ID} to the sender
//                                  (ID as JSON.parse read it: integers beyond
//                                  2^53 lose precision).
//   anything else                  answer {"type":"error","error":"..."}; the
//                                  connection stays open.
//
// Stats (GET /stats and the final line), all counts since the start:
//   connections      WebSocket connections upgraded
//   open             connections open now
//   frames_in        data frames received (text and binary)
//   joins            join frames answered with joined
//   published        pub frames received
//   deliveries_owed  for each pub, the other members of its room at that moment
//   deliveries_sent  deliveries whose send completed without error
//   requests         req frames received
//   replies          res frames sent
//   errors           frames answered with an error

const fs = require('fs');
const https = require('https');
const { parseArgs } = require('util');
const { WebSocketServer } = require('ws');

function usage(msg) {
  process.stderr.write(`server.js: ${msg}\n` +
    'usage: node server.js --cert CERT.pem --key KEY.pem [--host 127.0.0.1] [--port 0] [--rooms SIZE]\n');
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      cert: { type: 'string' },
      key: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      rooms: { type: 'string', default: '0' },
    },
  }).values;
} catch (e) {
  usage(e.message);
}
if (!opts.cert || !opts.key) usage('--cert and --key are required');
const port = Number(opts.port);
const roomSize = Number(opts.rooms);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port ${opts.port}: want 0..65535`);
if (!Number.isInteger(roomSize) || roomSize < 0) usage(`--rooms ${opts.rooms}: want a size of 1 or more (0: one room)`);

const stats = {
  connections: 0,
  open: 0,
  frames_in: 0,
  joins: 0,
  published: 0,
  deliveries_owed: 0,
  deliveries_sent: 0,
  requests: 0,
  replies: 0,
  errors: 0,
};

// rooms maps a room's name to the set of its connections.
const rooms = new Map();
// filled counts the connections to "/", for the fill order.
let filled = 0;

function enter(ws, name) {
  let members = rooms.get(name);
  if (!members) {
    members = new Set();
    rooms.set(name, members);
  }
  members.add(ws);
  ws.room = name;
  return members.size;
}

function leave(ws) {
  const members = rooms.get(ws.room);
  if (!members) return;
  members.delete(ws);
  if (members.size === 0) rooms.delete(ws.room);
}

function reply(ws, msg) {
  ws.send(JSON.stringify(msg));
}

function fail(ws, error) {
  stats.errors++;
  reply(ws, { type: 'error', error });
}

function onFrame(ws, data, isBinary) {
  stats.frames_in++;
  let msg;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch (e) {
    fail(ws, `not JSON: ${e.message}`);
    return;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    fail(ws, 'not a JSON object');
    return;
  }
  switch (msg.type) {
    case 'join': {
      if (typeof msg.room !== 'string') {
        fail(ws, 'join needs a room (a string)');
        return;
      }
      leave(ws);
      const members = enter(ws, msg.room);
      stats.joins++;
      reply(ws, { type: 'joined', room: msg.room, members });
      return;
    }
    case 'pub': {
      stats.published++;
      for (const peer of rooms.get(ws.room)) {
        if (peer === ws) continue;
        stats.deliveries_owed++;
        peer.send(data, { binary: isBinary }, (err) => {
          if (!err) stats.deliveries_sent++;
        });
      }
      return;
    }
    case 'req': {
      if (!('id' in msg)) {
        fail(ws, 'req needs an id');
        return;
      }
      stats.requests++;
      reply(ws, { type: 'res', id: msg.id });
      stats.replies++;
      return;
    }
    default:
      fail(ws, `unknown type ${JSON.stringify(msg.type)}`);
  }
}

const server = https.createServer({
  cert: fs.readFileSync(opts.cert),
  key: fs.readFileSync(opts.key),
}, (req, res) => {
  const path = new URL(req.url, 'https://host').pathname;
  if (req.method === 'GET' && path === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found: WebSocket upgrades on any path, GET /stats\n');
});

const wss = new WebSocketServer({ server, perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  stats.connections++;
  stats.open++;
  const path = new URL(req.url, 'https://host').pathname;
  let room = path;
  if (path === '/') {
    room = roomSize > 0 ? `#${Math.floor(filled / roomSize)}` : '#0';
    filled++;
  }
  enter(ws, room);
  ws.on('message', (data, isBinary) => onFrame(ws, data, isBinary));
  ws.on('close', () => {
    stats.open--;
    leave(ws);
  });
  // A connection error (a bad frame, a reset) is followed by close.
  ws.on('error', () => {});
});

server.listen(port, opts.host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

function stop() {
  process.stdout.write(`stats ${JSON.stringify(stats)}\n`, () => process.exit(0));
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
