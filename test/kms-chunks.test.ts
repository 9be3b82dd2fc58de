/**
 * Issue 9, item 4: every chunk of a KMS body is zeroed, however it arrives.
 *
 * The HTTP parser hands each piece of a response body to the IncomingMessage
 * as a Buffer of its own (a copy of what the socket read). These tests record
 * every such Buffer of the KMS responses (a spy on IncomingMessage.push, the
 * only place the parser hands them over) and check, once the key was
 * captured, that every one of them holds only zeros — with the local endpoint
 * answering in chunked transfer-encoding (all chunks in one write, or apart),
 * in several delayed writes cut inside the base64 Plaintext, and while the
 * client's event loop is blocked so that pieces pile up in the socket (the
 * endpoint then runs in a child process); over HTTP and HTTPS,
 * through the real @aws-sdk/client-kms and secret-scope's capture.
 *
 * On the old capture (Readable.read() through an async iterator) every case
 * where more than one chunk waited in the stream failed: read() handed over a
 * concatenated copy, and the parser's own chunks were dropped unzeroed.
 */
import { spawn } from 'node:child_process';
import { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  hmacSign,
  protectionReport,
  withSecretScope,
  InvocationScope,
  SecretScopeCore,
  ZeroingHttpAgent,
  ZeroingHttpsAgent,
} from '../src/index.js';
import type { KmsFaults } from '../src/kms-local/index.js';
import { withCore } from '../src/lambda/wrapper.js';
import { clientConfig, DUMMY_CREDENTIALS, REGION, startKms, until, type KmsLocal } from './helpers/kms.js';
// @ts-expect-error plain JS helper shared with test/soak.test.ts
import { ensureDist, REPO_ROOT } from './fixtures/soak-dist.mjs';

/** Every body chunk the HTTP parser pushed while `record` was on (null ends excluded). */
const pushed: Buffer[] = [];
let record = false;
const originalPush = IncomingMessage.prototype.push;
let blockOnFirstChunkMs = 0;
const blocked = new WeakSet<object>();

function spyOnParserChunks(): void {
  IncomingMessage.prototype.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    // Client responses only (they have a status code); the endpoint runs in this process too.
    if (record && this.statusCode && chunk instanceof Uint8Array && chunk.length > 0) {
      pushed.push(chunk as Buffer);
      // Once per response: the first body chunk of each.
      if (blockOnFirstChunkMs > 0 && !blocked.has(this)) {
        blocked.add(this);
        // A busy event loop: the rest of the body reaches the socket while nothing reads it.
        const until = Date.now() + blockOnFirstChunkMs;
        while (Date.now() < until);
      }
    }
    return originalPush.call(this, chunk, encoding);
  };
}

const servers: Record<'http' | 'https', KmsLocal | undefined> = { http: undefined, https: undefined };

beforeAll(async () => {
  servers.http = await startKms();
  servers.https = await startKms({ https: true });
  spyOnParserChunks();
});
afterAll(async () => {
  IncomingMessage.prototype.push = originalPush;
  await servers.http?.close();
  await servers.https?.close();
});
afterEach(() => {
  record = false;
  blockOnFirstChunkMs = 0;
  pushed.length = 0;
  for (const kms of [servers.http, servers.https]) {
    kms?.setFaults(undefined);
    kms?.resetStats();
  }
});

function configFor(transport: 'http' | 'https') {
  const kms = servers[transport]!;
  if (transport === 'http') {
    return clientConfig(kms, { requestHandler: new NodeHttpHandler({ httpAgent: new ZeroingHttpAgent({ keepAlive: true }) }) });
  }
  return clientConfig(kms, {
    requestHandler: new NodeHttpHandler({ httpsAgent: new ZeroingHttpsAgent({ keepAlive: true, ca: kms.certificatePem }) }),
  });
}

const cases: Array<[string, KmsFaults]> = [
  ['chunked transfer-encoding, every chunk in one write (the Plaintext value a chunk of its own)', { chunkedBody: true }],
  ['chunked transfer-encoding, chunks 15 ms apart, cut inside the Plaintext', { chunkedBody: { cut: 'inside-plaintext', delayMs: 15 } }],
  ['chunked transfer-encoding, 8-byte chunks 2 ms apart', { chunkedBody: { cut: 8, delayMs: 2 } }],
  ['three writes 15 ms apart, cut inside the base64 Plaintext (Content-Length)', { splitWrites: { delayMs: 15 } }],
];

/** A handler deriving one entropy key (GenerateRandom) and one root key (Decrypt); returns tag lengths. */
function twoKeyHandler(core: SecretScopeCore) {
  return withCore(async (_e: unknown, context: { secretScope?: InvocationScope }) => {
    const mac = await context.secretScope!.key('mac');
    const stable = await context.secretScope!.key('stable');
    return [hmacSign(mac, 'x').length, hmacSign(stable, 'x').length];
  }, core);
}

/** Checks what the spy recorded: the body came in pieces, and every piece is zeros now. */
function expectEveryChunkZeroed(_oneWrite: boolean): void {
  // At least one parser chunk per response. How many more depends on how the bytes were read
  // (a busy loop, or Node 24's parser, hands a body that arrived in one read over as one chunk);
  // the endpoint's fault counters prove it answered in pieces. Whatever the parser made is zeroed.
  expect(pushed.length).toBeGreaterThanOrEqual(2);
  const dirty = pushed.filter((c) => c.some((b) => b !== 0));
  expect(dirty.map((c) => c.length), 'body chunks left with bytes in them').toEqual([]);
}

describe.each(['http', 'https'] as const)('KMS bodies in pieces over %s: every chunk the parser made is zeroed', (transport) => {
  for (const [name, faults] of cases) {
    it(name, async () => {
      const kms = servers[transport]!;
      kms.setFaults(faults);
      const root = kms.encryptForTest(kms.defaultKey.keyId, Buffer.alloc(32, 7));
      const core = new SecretScopeCore({
        keys: { mac: { use: 'hmac' }, stable: { use: 'hmac', from: 'root' } },
        root: { ciphertextBlob: root.toString('base64') },
        kms: { clientConfig: configFor(transport) },
      });
      const base = protectionReport().liveSlots;
      record = true;
      expect(await twoKeyHandler(core)({}, {})).toEqual([32, 32]);
      record = false;
      const faultKind = faults.chunkedBody ? 'chunkedBody' : 'splitWrites';
      expect(kms.stats.faults[faultKind]).toBe(2); // GenerateRandom and Decrypt
      expectEveryChunkZeroed(name.includes('in one write'));
      core.dispose();
      await until(() => protectionReport().liveSlots === base, 'the root key released by dispose()');
    });
  }
});

/** The endpoint in a child process, so that blocking this process's loop does not stop it. */
async function childEndpoint(options: object): Promise<{ url: string; certificatePem?: string; rootBlob: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(REPO_ROOT as string, 'test', 'fixtures', 'kms-local-child.mjs'), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', res);
    child.once('exit', (code) => rej(new Error(`kms-local child exited (${code})`)));
  });
  const stop = () =>
    new Promise<void>((res) => {
      child.once('exit', () => res());
      child.stdin!.end();
    });
  return { ...JSON.parse(line), stop };
}

describe('a busy event loop: the rest of the body piles up in the socket while nothing reads it', () => {
  beforeAll(async () => {
    await ensureDist();
  }, 180_000);

  it.each(['http', 'https'] as const)('%s: chunked, 10 ms apart, this loop blocked 150 ms after the first chunk', async (transport) => {
    const local = await childEndpoint({ https: transport === 'https', faults: { chunkedBody: { delayMs: 10 } } });
    try {
      const agent =
        transport === 'http'
          ? { httpAgent: new ZeroingHttpAgent({ keepAlive: true }) }
          : { httpsAgent: new ZeroingHttpsAgent({ keepAlive: true, ca: local.certificatePem }) };
      const core = new SecretScopeCore({
        keys: { mac: { use: 'hmac' }, stable: { use: 'hmac', from: 'root' } },
        root: { ciphertextBlob: local.rootBlob },
        kms: {
          clientConfig: {
            endpoint: local.url,
            region: REGION,
            credentials: DUMMY_CREDENTIALS,
            maxAttempts: 1,
            requestHandler: new NodeHttpHandler(agent),
          },
        },
      });
      record = true;
      blockOnFirstChunkMs = 150;
      expect(await twoKeyHandler(core)({}, {})).toEqual([32, 32]);
      record = false;
      expectEveryChunkZeroed(false);
      core.dispose();
    } finally {
      await local.stop();
    }
  });
});

describe('the key captured from a body in pieces is the key KMS issued', () => {
  it('a root-derived key from a chunked, split Decrypt answer equals the one from a plain answer', async () => {
    const kms = servers.http!;
    const blob = kms.encryptForTest(kms.defaultKey.keyId, Buffer.alloc(32, 9)).toString('base64');
    const tag = async (faults: KmsFaults | undefined) => {
      kms.setFaults(faults);
      const h = withSecretScope(
        async (_e: unknown, context: { secretScope?: InvocationScope }) =>
          hmacSign(await context.secretScope!.key('stable'), 'same message').toString('hex'),
        { keys: { stable: { use: 'hmac', from: 'root' } }, root: { ciphertextBlob: blob }, kms: { clientConfig: configFor('http') } },
      );
      return h({}, {});
    };
    const plain = await tag(undefined);
    expect(await tag({ chunkedBody: { cut: 5 } })).toBe(plain);
    expect(await tag({ splitWrites: { delayMs: 5 } })).toBe(plain);
  });
});
