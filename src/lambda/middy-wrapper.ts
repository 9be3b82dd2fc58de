/**
 * secretScopeMiddy(middy(handler, pluginConfig), options): the one wiring for middy
 * that owns the whole invocation. A middleware sees only the phases middy shows it;
 * this wraps the handler middy returns, so whatever middy does inside (any middleware
 * answering early, any onError throwing, its timeout race, a body replaced or never
 * read), the scope:
 *  - opens before middy's first middleware, at context.secretScope;
 *  - is bound with AsyncLocalStorage.run around the whole middy call: every
 *    middleware (before or after ours, sync or async), the handler and every timer
 *    they start see exactly this invocation's scope, and nothing else does;
 *  - ends when middy's promise settles, before the value reaches the runtime. In
 *    streaming mode middy settles only after it piped the body into the response
 *    stream, so that is also when the body finished (ended, errored, cancelled,
 *    replaced); it ends earlier if the response stream is destroyed, and at the Lambda
 *    deadline if a client stalls the stream (which is then destroyed). In buffered mode a
 *    streamed body that has not finished is refused (nothing reads it afterwards).
 * The returned handler forwards .use/.before/.after/.onError/.handler to middy, so
 * chaining continues after the wrap, and carries the streaming marker
 * awslambda.streamifyResponse put on middy's handler.
 */
import { SecretScopeCore, secretScopeValidateOptions, type SecretScopeOptions } from './invocation.js';
import { scopeStorage } from '../scope/context.js';
import { attachScope, refuseUnfinishedStream } from './ownership.js';
import { rejectUnhonouredMiddyOptions, secretScopeDefaults } from './middy.js';
import { endWhenStreamAborted, TimeoutError } from './wrapper.js';
import type { InvocationScope } from './invocation.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type MiddyHandler = ((...args: any[]) => any) & Record<string | symbol, any>;

const CHAIN = ['use', 'before', 'after', 'onError', 'handler'] as const;
/** What awslambda.streamifyResponse sets on a streaming handler (aws-lambda-nodejs-runtime-interface-client). */
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

function isStreaming(handler: MiddyHandler): boolean {
  // middy's streaming handler is (event, responseStream, context); its standard one (event, context)
  return handler[HANDLER_STREAMING] === 'response' || handler.length >= 3;
}

/**
 * A client that neither reads nor goes away stalls middy's pipeline: the invocation never
 * settles and the scope would live until the runtime stops the process. At the Lambda
 * deadline the scope ends and the response stream is destroyed, so the pipeline fails and
 * the invocation settles. Returns the function that cancels it.
 */
function endAtLambdaDeadline(context: unknown, responseStream: NodeJS.WritableStream, scope: InvocationScope): () => void {
  const remaining = (context as { getRemainingTimeInMillis?: () => number } | undefined)?.getRemainingTimeInMillis;
  if (typeof remaining !== 'function') return () => undefined;
  const ms = Number(remaining.call(context));
  if (!Number.isFinite(ms)) return () => undefined;
  const timer = setTimeout(() => {
    scope.end();
    (responseStream as NodeJS.WritableStream & { destroy?: (e: Error) => void }).destroy?.(
      new TimeoutError('ERR_TIMEOUT', 'the response stream had not finished at the Lambda deadline; its scope was wiped'),
    );
  }, Math.max(0, ms));
  timer.unref();
  return () => clearTimeout(timer);
}

export function secretScopeMiddy<H extends MiddyHandler>(middyHandler: H, opts: SecretScopeOptions = {}): H {
  if (typeof middyHandler !== 'function' || typeof middyHandler.use !== 'function') {
    throw new TypeError('secretScopeMiddy: pass the handler middy returns: secretScopeMiddy(middy(handler), options)');
  }
  secretScopeValidateOptions(opts);
  rejectUnhonouredMiddyOptions(opts, 'secretScopeMiddy');
  const core = new SecretScopeCore({ ...secretScopeDefaults, ...opts });

  const wrapped = (isStreaming(middyHandler)
    ? async function secretScopedMiddyStream(this: unknown, event: unknown, responseStream: NodeJS.WritableStream, context: unknown, ...rest: unknown[]) {
        const scope = core.open(event, context);
        const detach = endWhenStreamAborted(responseStream, scope);
        const cancelDeadline = endAtLambdaDeadline(context, responseStream, scope);
        try {
          attachScope(context, scope, 'secretScopeMiddy');
          return await scopeStorage.run(scope, () => middyHandler.call(this, event, responseStream, context, ...rest));
        } finally {
          cancelDeadline();
          detach();
          scope.end();
        }
      }
    : async function secretScopedMiddy(this: unknown, event: unknown, context: unknown, ...rest: unknown[]) {
        const scope = core.open(event, context);
        try {
          attachScope(context, scope, 'secretScopeMiddy');
          const response = await scopeStorage.run(scope, () => middyHandler.call(this, event, context, ...rest));
          refuseUnfinishedStream(response, 'secretScopeMiddy');
          return response;
        } finally {
          scope.end();
        }
      }) as unknown as H;

  for (const sym of Object.getOwnPropertySymbols(middyHandler)) (wrapped as MiddyHandler)[sym] = middyHandler[sym];
  for (const name of CHAIN) {
    if (typeof middyHandler[name] === 'function') {
      (wrapped as MiddyHandler)[name] = (...args: unknown[]) => {
        middyHandler[name](...args);
        return wrapped;
      };
    }
  }
  return wrapped;
}
