/** Public entry point `secret-scope/middy`: the middy wrapper (the one right wiring) and the middleware. */
export * from './lambda/middy.js';
export { secretScopeMiddy } from './lambda/middy-wrapper.js';
export { default } from './lambda/middy.js';
