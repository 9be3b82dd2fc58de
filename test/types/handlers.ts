// Type tests (compiled by test/types.test.ts under moduleResolution bundler, node16 and node10,
// strict, skipLibCheck false, esModuleInterop false): how users call the Lambda entry points.
import type { Context, Handler } from 'aws-lambda';
import { withSecretScope, hmacSign, currentScope, secretScoped, type ScopedContext, type Key, type SecretScopeOptions, KeyReleasedError } from 'secret-scope';

interface TenantEvent {
  tenantId: string;
  body: string;
}
interface Tagged {
  tag: string;
}

// The event type flows from the handler into keys.x.context.
export const handler = withSecretScope(
  async (event: TenantEvent, context) => {
    const key: Key = await context.secretScope.key('tenant');
    const name: string = context.functionName; // Lambda's Context is kept
    void name;
    return { tag: hmacSign(key, event.body).toString('base64url') };
  },
  {
    keys: { tenant: { use: 'hmac', from: 'entropy', context: (event) => event.tenantId } },
    entropy: { policy: 'per-invocation' },
  },
);

// Assignable to @types/aws-lambda's Handler<E, R>.
export const typed: Handler<TenantEvent, Tagged> = handler;

// Typed from the declared Handler alone.
export const fromAnnotation: Handler<TenantEvent, Tagged> = withSecretScope(async (event, context) => {
  const key = await context.secretScope.key('k');
  return { tag: hmacSign(key, event.tenantId).toString('hex') };
});

// Callback style.
export const callbackStyle = withSecretScope((event: TenantEvent, context: Context & ScopedContext, callback: (err: Error | null, r?: Tagged) => void) => {
  void context.secretScope;
  callback(null, { tag: event.tenantId });
});
export const callbackTyped: Handler<TenantEvent, Tagged> = callbackStyle;

// The wrapped handler takes Lambda's Context (not a ScopedContext: the wrapper adds it).
export async function call(ctx: Context): Promise<string> {
  const r = await handler({ tenantId: 't', body: 'b' }, ctx);
  return r.tag;
}

// Mistakes are type errors.
withSecretScope(async (event: TenantEvent) => event, {
  // @ts-expect-error: TenantEvent has no 'missing'
  keys: { k: { use: 'hmac', context: (event) => event.missing } },
});
// @ts-expect-error: not a key use
withSecretScope(async () => 1, { keys: { k: { use: 'rsa' } } });

// ScopedContext is a documented type of its own.
export function scopeOf(context: Context & ScopedContext) {
  return context.secretScope === currentScope();
}

// Options declared separately keep their event type.
export const options: SecretScopeOptions<TenantEvent> = { keys: { t: { use: 'aead', context: (e) => e.tenantId } } };

// The decorator (TC39 standard decorators, TypeScript 5).
export class TenantHandler {
  @secretScoped<TenantEvent>({ keys: { token: { use: 'hmac', context: (event) => event.tenantId } } })
  async handle(event: TenantEvent, context: Context & ScopedContext): Promise<Tagged> {
    const key = await context.secretScope.key('token');
    return { tag: hmacSign(key, event.body).toString('hex') };
  }
}

export function isReleased(e: unknown): boolean {
  return e instanceof KeyReleasedError && e.code === 'ERR_KEY_RELEASED';
}
