/** Public entry point `secret-scope/middy`: the middy middleware. */
export * from './lambda/middy.js';
export { default } from './lambda/middy.js';
