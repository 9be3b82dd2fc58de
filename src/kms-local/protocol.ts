/** AWS JSON 1.1 wire details: reading requests, writing results, errors and faulty answers. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KmsProtocolError } from './errors.js';
import type { Delivery } from './faults.js';

export const CONTENT_TYPE = 'application/x-amz-json-1.1';
export const TARGET_PREFIX = 'TrentService.';
export const MAX_REQUEST_BYTES = 1024 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_REQUEST_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new KmsProtocolError('RequestEntityTooLargeException', `Request body exceeds ${limit} bytes`, 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The operation named by `X-Amz-Target: TrentService.<Op>`, or undefined. */
export function targetOperation(req: IncomingMessage): string | undefined {
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) return undefined;
  return target.slice(TARGET_PREFIX.length) || undefined;
}

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.length === 0 ? '{}' : body.toString('utf8'));
  } catch {
    throw new KmsProtocolError('SerializationException', 'The request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KmsProtocolError('SerializationException', 'The request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function baseHeaders(length: number): Record<string, string> {
  return {
    'Content-Type': CONTENT_TYPE,
    'Content-Length': String(length),
    'x-amzn-RequestId': randomUUID(),
  };
}

export function sendJson(res: ServerResponse, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(200, baseHeaders(payload.length));
  res.end(payload);
}

const PLAINTEXT_FIELD = Buffer.from('"Plaintext":"');

/** Where a body is cut for a delivery fault (offsets, ascending, strictly inside the body). */
export function cutPoints(payload: Buffer, cut: Delivery['cut']): number[] {
  let points: number[];
  if (typeof cut === 'number') {
    points = [];
    for (let at = cut; at < payload.length; at += cut) points.push(at);
    return points;
  }
  const field = payload.indexOf(PLAINTEXT_FIELD);
  const start = field < 0 ? -1 : field + PLAINTEXT_FIELD.length;
  const end = start < 0 ? -1 : payload.indexOf(0x22 /* " */, start);
  if (start < 0 || end < 0 || end - start < 3) {
    points = [Math.floor(payload.length / 3), Math.floor((2 * payload.length) / 3)];
  } else if (cut === 'around-plaintext') {
    points = [start, end];
  } else {
    const third = Math.floor((end - start) / 3);
    points = [start + third, start + 2 * third];
  }
  return points.filter((p, i) => p > 0 && p < payload.length && (i === 0 || p > points[i - 1]!));
}

/**
 * A successful answer delivered in pieces (delivery faults): chunked
 * transfer-encoding with one chunk per piece, or a Content-Length body in
 * several writes. With `delayMs` 0 every piece goes out in one socket write.
 */
export async function sendJsonInPieces(res: ServerResponse, body: unknown, delivery: Delivery): Promise<void> {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const points = cutPoints(payload, delivery.cut);
  const pieces = [0, ...points].map((from, i) => payload.subarray(from, points[i] ?? payload.length));
  const headers = baseHeaders(payload.length);
  if (delivery.kind === 'chunkedBody') {
    delete headers['Content-Length'];
    headers['Transfer-Encoding'] = 'chunked';
  }
  res.on('error', () => undefined); // a client that went away during a pause
  res.writeHead(200, headers);
  if (delivery.delayMs === 0) res.cork();
  for (let i = 0; i < pieces.length; i++) {
    if (res.destroyed) return;
    res.write(pieces[i]);
    if (delivery.delayMs > 0 && i < pieces.length - 1) await sleep(delivery.delayMs);
  }
  if (delivery.delayMs === 0) res.uncork();
  if (!res.destroyed) res.end();
}

export function sendError(res: ServerResponse, error: KmsProtocolError): void {
  const payload = Buffer.from(JSON.stringify({ __type: error.type, message: error.message }), 'utf8');
  res.writeHead(error.status, { ...baseHeaders(payload.length), 'x-amzn-ErrorType': error.type });
  res.end(payload);
}

/** 200 and a body no JSON parser accepts. */
export function sendMalformedJson(res: ServerResponse): void {
  const payload = Buffer.from('{"Plaintext": <html>502 Bad Gateway</html>', 'utf8');
  res.writeHead(200, baseHeaders(payload.length));
  res.end(payload);
}

/** 200 with a Content-Length promising more than is sent, then the end of the connection. */
export function sendTruncated(res: ServerResponse): void {
  const partial = Buffer.from('{"Plaintext":"AAAA', 'utf8');
  res.writeHead(200, baseHeaders(partial.length + 256));
  const socket = res.socket;
  res.write(partial, () => socket?.end());
}

/** Drops the connection with no response: an RST where the runtime can send one (plain TCP), else a close. */
export function resetConnection(socket: Socket | null): void {
  if (!socket) return;
  const withReset = socket as Socket & { resetAndDestroy?: () => Socket };
  try {
    if (typeof withReset.resetAndDestroy === 'function') {
      withReset.resetAndDestroy();
      return;
    }
  } catch {
    // TLS sockets have no TCP handle to reset; fall through to a plain destroy.
  }
  socket.destroy();
}
