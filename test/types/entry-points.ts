// Every public entry point resolves and has types.
import { startKmsLocal } from 'secret-scope/kms-local';
import { testing } from 'secret-scope/testing';
import secretScopeMiddlewareDefault, { bindScope, type SecretScopeMiddlewareObj } from 'secret-scope/middy';
import { ZeroingHttpAgent, protectionReport, AddonLoadError, type ProtectionReport } from 'secret-scope';

export const m: SecretScopeMiddlewareObj = secretScopeMiddlewareDefault();
export const b = bindScope(async (event: { a: number }, context: object) => event.a + Object.keys(context).length);
export const r: () => ProtectionReport = protectionReport;
export const agent = new ZeroingHttpAgent({ keepAlive: true });
export const t = testing.address;
export const s = startKmsLocal;
export const code = (e: AddonLoadError): string => e.code;
