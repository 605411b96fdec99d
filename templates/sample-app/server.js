'use strict';
// flowstack's built-in Socket.IO app: the server a new stack runs until the user brings
// their own. Clients join a room, see who else is there (presence) and chat; the server
// relays and keeps no history. GET /health and GET /metrics answer like the FlowSpace
// server's. Settings come from the environment:
//   PORT          port to listen on (default 3001)
//   HOST          address to bind (default 0.0.0.0: inside its container, behind Caddy)
//   CORS_ORIGINS  comma-separated browser origins allowed to connect besides the app's own
//                 (default: none). Clients that send no Origin (not browsers) always may.
const fs = require('node:fs');
const http = require('node:http');
const { Server } = require('socket.io');
const { version } = require('./package.json');

const LIMITS = { room: 64, name: 32, text: 2000 };

function setting(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function portFrom(text) {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    console.error(`Error: PORT is ${JSON.stringify(text)}; it must be a whole number from 1 to 65535, e.g. 3001`);
    process.exit(2);
  }
  return port;
}

function originsFrom(text) {
  const origins = text.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      console.error(`Error: CORS_ORIGINS has ${JSON.stringify(origin)}; each origin is scheme://host[:port] with no path, e.g. https://app.example.com`);
      process.exit(2);
    }
  }
  return origins;
}

const port = portFrom(setting('PORT', '3001'));
const host = setting('HOST', '0.0.0.0');
const origins = originsFrom(setting('CORS_ORIGINS', ''));
const started = Date.now();
const counts = { connections: 0, messages: 0 };

function storage() {
  // Like the FlowSpace server's /metrics: the root filesystem as df sees it.
  const s = fs.statfsSync('/');
  const gb = (blocks) => Math.round((blocks * s.bsize) / 1e7) / 100;
  const used = s.blocks - s.bfree;
  return {
    totalGB: gb(s.blocks), usedGB: gb(used), availableGB: gb(s.bavail),
    // df's Use%: blocks reserved for root count as neither used nor available.
    usedPercent: used + s.bavail ? Math.round((used / (used + s.bavail)) * 100) : 0, mountPoint: '/',
  };
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  // Socket.IO answers its own path (/socket.io/) before this handler runs.
  const path = (req.url || '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
  if (path === '/health') return json(res, 200, { status: 'ok', uptime: Math.round((Date.now() - started) / 1000) });
  if (path === '/metrics') return json(res, 200, metrics());
  return json(res, 404, { error: 'not found' });
});

function originAllowed(req) {
  // CORS headers only guard long-polling; WebSocket upgrades are checked here too, so
  // both transports admit the same browsers: the app's own origin and CORS_ORIGINS.
  const origin = req.headers.origin;
  if (!origin || origins.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

const io = new Server(server, {
  cors: origins.length ? { origin: origins } : undefined,
  allowRequest: (req, callback) => callback(null, originAllowed(req)),
  maxHttpBufferSize: 64 * 1024,
});

function rooms() {
  // Socket.IO keeps a room per socket id; only the rooms clients joined count here.
  const joined = [...io.of('/').adapter.rooms].filter(([name]) => !io.of('/').sockets.has(name));
  return { count: joined.length, members: joined.reduce((n, [, ids]) => n + ids.size, 0) };
}

function metrics() {
  return {
    server: 'socket.io', version, uptimeSeconds: Math.round((Date.now() - started) / 1000),
    storage: storage(),
    connections: { current: io.of('/').sockets.size, total: counts.connections },
    rooms: rooms(),
    messages: { relayed: counts.messages },
  };
}

function text(value, max) {
  return typeof value === 'string' && value.trim() !== '' && value.length <= max ? value : null;
}

function reply(ack, body) {
  if (typeof ack === 'function') ack(body);
}

function members(room) {
  return [...(io.of('/').adapter.rooms.get(room) || [])].map((id) => ({ id, name: io.of('/').sockets.get(id).data.name }));
}

function leave(socket) {
  const room = socket.data.room;
  if (!room) return;
  socket.leave(room);
  socket.data.room = null;
  socket.to(room).emit('presence', { type: 'leave', room, id: socket.id, name: socket.data.name, count: members(room).length });
}

io.on('connection', (socket) => {
  counts.connections += 1;
  socket.data.name = null;
  socket.data.room = null;

  socket.on('join', (msg, ack) => {
    const room = text(msg && msg.room, LIMITS.room);
    const name = text(msg && msg.name, LIMITS.name);
    if (!room || !name) return reply(ack, { ok: false, error: `join needs room (1-${LIMITS.room} chars) and name (1-${LIMITS.name} chars)` });
    leave(socket);
    socket.data.name = name;
    socket.data.room = room;
    socket.join(room);
    const here = members(room);
    socket.to(room).emit('presence', { type: 'join', room, id: socket.id, name, count: here.length });
    return reply(ack, { ok: true, room, id: socket.id, members: here });
  });

  socket.on('chat', (msg, ack) => {
    const body = text(msg && msg.text, LIMITS.text);
    if (!socket.data.room) return reply(ack, { ok: false, error: 'join a room first' });
    if (!body) return reply(ack, { ok: false, error: `chat needs text (1-${LIMITS.text} chars)` });
    counts.messages += 1;
    const out = { room: socket.data.room, from: { id: socket.id, name: socket.data.name }, text: body, ts: Date.now() };
    socket.to(socket.data.room).emit('chat', out);
    return reply(ack, { ok: true, ts: out.ts });
  });

  socket.on('leave', (_msg, ack) => {
    leave(socket);
    reply(ack, { ok: true });
  });

  socket.on('disconnecting', () => leave(socket));
});

function shutdown(signal) {
  // Close every client (they reconnect to the next server), stop listening, then exit;
  // a hard stop after 8 s, inside Docker's default 10 s grace period.
  console.log(`${signal}: closing ${io.of('/').sockets.size} connections`);
  setTimeout(() => process.exit(1), 8000).unref();
  io.close(() => process.exit(0));
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.on('error', (err) => {
  console.error(`Error: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  console.log(`flowstack sample app ${version} listening on ${host}:${port}` + (origins.length ? `, CORS origins: ${origins.join(', ')}` : ''));
});
