/**
 * Class-method decorator for handler classes (as Powertools does). Works as a
 * TC39 standard decorator and as a legacy (experimentalDecorators) one.
 */
import { SecretScopeCore, type SecretScopeOptions } from './invocation.js';
import { withCore } from './wrapper.js';

/**
 * `@secretScoped(options)` on a handler method: generic over the event `E` so that
 * `keys.x.context: (event) => event.tenantId` type-checks (`@secretScoped<MyEvent>({...})`).
 */
export function secretScoped<E = any>(options: SecretScopeOptions<E> = {}) {
  const core = new SecretScopeCore(options as SecretScopeOptions);
  return function (target: any, contextOrKey?: any, descriptor?: PropertyDescriptor): any {
    if (contextOrKey && typeof contextOrKey === 'object' && contextOrKey.kind === 'method') {
      return withCore(target, core);
    }
    if (descriptor && typeof descriptor.value === 'function') {
      descriptor.value = withCore(descriptor.value, core);
      return descriptor;
    }
    throw new TypeError('@secretScoped() decorates methods only');
  };
}
