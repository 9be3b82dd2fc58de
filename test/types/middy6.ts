// middy 6: `.use(secretScopeMiddleware(o))` keeps the handler's types (it was `never`).
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { secretScopeMiddleware } from 'secret-scope/middy';
import { seal, type ScopedContext } from 'secret-scope';

interface OrderEvent {
  orderId: string;
}

export const handler = middy<OrderEvent, { sealed: string }>()
  .use(secretScopeMiddleware<OrderEvent>({ keys: { order: { use: 'aead', context: (event) => event.orderId } } }))
  .handler(async (event, context) => {
    const key = await context.secretScope.key('order');
    const name: string = context.awsRequestId;
    void name;
    return { sealed: seal(key, event.orderId).toString('base64') };
  });

export const wrapped = middy(async (event: OrderEvent, context: Context) => ({ id: event.orderId, fn: context.functionName })).use(
  secretScopeMiddleware({ keys: { session: { use: 'aead' } } }),
);
// middy merges the middleware's context type into the handler's (as for every middy
// middleware that adds to the context): the wrapped handler is typed with ScopedContext.
export const result: Promise<{ id: string; fn: string }> = wrapped({ orderId: 'o' }, {} as Context & ScopedContext);
// @ts-expect-error: the event type is kept (OrderEvent has no 'nope')
wrapped({ nope: 1 }, {} as Context & ScopedContext);
