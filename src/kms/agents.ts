/**
 * HTTP agents for the KMS clients secret-scope creates. Node frees socket read
 * buffers without zeroing them, and a KMS response holds a plaintext in base64.
 * - HTTP: each socket reads into one buffer of its own (net `onread`); the HTTP
 *   parser copies what it keeps synchronously, then the buffer is zeroed.
 * - HTTPS: cleartext comes out of the TLS layer, where `onread` does not apply:
 *   each 'data' buffer is zeroed once dispatched, and the connections set
 *   OpenSSL's SSL_OP_CLEANSE_PLAINTEXT, so that OpenSSL cleanses the decrypted
 *   record in its read buffer once it was copied out (by default it leaves it
 *   there, and frees the buffer unzeroed). The copy the TLS read leaves on the
 *   native stack is zeroed by the capture (memory/stack.ts).
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import type * as Net from 'node:net';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';

/**
 * The builtin's own exports, without an ES module namespace over them: building one
 * (`import * as http` in the ESM build, the interop copy in the CJS build) reads every
 * export, and on Node 22 `http`'s lazy WebSocket getters load undici: about 30 ms of
 * cold start (issue 11) that a handler using the AWS SDK (CommonJS `require`) never pays.
 */
function builtin<T>(id: string): T {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule; // Node >= 20.16
  return (get ? get(id) : createRequire(`${process.cwd()}/`)(id)) as T;
}
const http = builtin<typeof Http>('node:http');
const https = builtin<typeof Https>('node:https');
const net = builtin<typeof Net>('node:net');

const READ_BUFFER = 16 * 1024;

export class ZeroingHttpAgent extends http.Agent {
  // The Agent uses the returned socket; it needs no callback for a synchronous one.
  override createConnection(options: Http.ClientRequestArgs): Duplex {
    // Off the V8 heap, so that zeroing it zeroes the only copy.
    const buffer = Buffer.from(new ArrayBuffer(READ_BUFFER));
    const socket: Net.Socket = net.connect(
      {
        ...(options as unknown as Net.TcpNetConnectOpts),
        onread: {
          buffer,
          callback: (n: number, buf: Uint8Array) => {
            const chunk = (buf as Buffer).subarray(0, n);
            try {
              socket.emit('data', chunk);
            } finally {
              chunk.fill(0);
            }
            return true;
          },
        },
      } as Net.TcpNetConnectOpts,
    );
    return socket;
  }
}

/**
 * OpenSSL 3's SSL_OP_CLEANSE_PLAINTEXT (node:crypto does not export it). In
 * OpenSSL 1.1.1 the same bit was a no-op legacy flag, so setting it is harmless
 * there too; every Node version this package supports ships OpenSSL 3.
 */
export const SSL_OP_CLEANSE_PLAINTEXT = 0x2;

export class ZeroingHttpsAgent extends https.Agent {
  constructor(options: Https.AgentOptions = {}) {
    super({ ...options, secureOptions: (options.secureOptions ?? 0) | SSL_OP_CLEANSE_PLAINTEXT });
  }

  override createConnection(...args: Parameters<Https.Agent['createConnection']>): Duplex {
    const socket = (https.Agent.prototype as unknown as { createConnection: (...a: unknown[]) => Duplex }).createConnection.apply(this, args);
    const emit = socket.emit;
    socket.emit = function (this: Duplex, event: string | symbol, ...rest: unknown[]): boolean {
      const r = emit.call(this, event, ...rest);
      const chunk = rest[0];
      if (event === 'data' && chunk instanceof Uint8Array) chunk.fill(0);
      return r;
    } as typeof socket.emit;
    return socket;
  }
}
