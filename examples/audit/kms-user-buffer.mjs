// Audit fixture: the success path with a KMS client whose sockets read into one
// buffer of their own (net `onread`) that is zeroed right after Node's HTTP
// parser has consumed it, and KMS entropy bodies longer than 64 bytes. It
// localises the KMS-plaintext residue the audit finds on the default path (see
// SECURITY.md, "Open findings"): with both changes the audit finds 0 copies over
// HTTP; over HTTPS what remains is the TLS residual JavaScript cannot wipe.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import * as lib from 'secret-scope';

// OpenSSL 3's SSL_OP_CLEANSE_PLAINTEXT (not in node:crypto's constants).
const SSL_OP_CLEANSE_PLAINTEXT = 0x2;
import { fixtureOptions, useKeys } from './common.mjs';

class UserBufferAgent extends http.Agent {
  createConnection(options, connected) {
    const buffer = Buffer.alloc(16384);
    const socket = net.connect(
      {
        ...options,
        onread: {
          buffer,
          callback: (n, buf) => {
            const chunk = buf.subarray(0, n);
            socket.emit('data', chunk); // the HTTP parser copies what it keeps, synchronously
            chunk.fill(0);
          },
        },
      },
      connected,
    );
    return socket;
  }
}

// Over HTTPS the cleartext comes out of the TLS layer, where `onread` does not
// apply: the best JavaScript can do is zero each 'data' buffer once dispatched.
// What remains is the residual SECURITY.md measures.
// A client of your own must also ask OpenSSL to cleanse its record buffers
// (SSL_OP_CLEANSE_PLAINTEXT): without it, Node 24's OpenSSL leaves the last
// records' cleartext in freed malloc memory (measured by the audit).
class ZeroingHttpsAgent extends https.Agent {
  constructor(options = {}) {
    super({ ...options, secureOptions: (options.secureOptions ?? 0) | SSL_OP_CLEANSE_PLAINTEXT });
  }

  createConnection(...args) {
    const socket = super.createConnection(...args);
    const emit = socket.emit;
    socket.emit = function (event, chunk, ...rest) {
      const r = emit.call(this, event, chunk, ...rest);
      if (event === 'data' && chunk instanceof Uint8Array) chunk.fill(0);
      return r;
    };
    return socket;
  }
}

export function createHandler(env) {
  const options = fixtureOptions(env, {
    // 48 bytes: the JSON body is longer than 64 bytes (see finding F1)
    entropy: { kmsBytes: 48 },
    kms: { clientConfig: { requestHandler: new NodeHttpHandler({ httpAgent: new UserBufferAgent({ keepAlive: true }), httpsAgent: new ZeroingHttpsAgent({ keepAlive: true }) }) } },
  });
  const handler = lib.withSecretScope(async (event, context) => {
    const out = await useKeys(context.secretScope, lib, event);
    return { statusCode: 200, body: JSON.stringify(out) };
  }, options);
  return { handler, options };
}
