'use strict';
// flowstack, several nodes (scale.nodes >= 2): loaded before server.js (node --require), it
// gives every Socket.IO server the app creates the Redis Streams adapter, so a broadcast on
// one node reaches the clients of every node. The adapter reads a Redis stream from its last
// offset, so a Redis restart delays messages instead of losing them. REDIS_URL comes from the
// node's root-only env file; without it the app runs alone, exactly as on one node.
const url = process.env.REDIS_URL;
if (url) {
  const sio = require('socket.io');
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-streams-adapter');
  const client = createClient({ url });
  // node-redis reconnects by itself; an error is logged (never the URL: it holds the password).
  client.on('error', (err) => console.error(`redis: ${err.code || err.name}: reconnecting`));
  client.connect().catch(() => {}); // commands wait in node-redis's queue until connected
  const adapter = createAdapter(client);
  const Base = sio.Server;
  class Server extends Base {
    constructor(srv, opts) {
      super(srv, { adapter, ...(opts || {}) });
    }
  }
  sio.Server = Server;
}
