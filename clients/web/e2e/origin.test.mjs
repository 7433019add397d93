import { describe, expect, it } from 'vitest';
import { appOrigin, isCI } from './origin.mjs';

const server = 'http://127.0.0.1:8080';

describe('appOrigin', () => {
  it.each([
    [{}, server],
    [{ CI: 'true' }, server],
    [{ E2E_APP_URL: 'http://127.0.0.1:5173' }, 'http://127.0.0.1:5173'],
    [{ E2E_APP_URL: 'http://127.0.0.1:5173', CI: 'false' }, 'http://127.0.0.1:5173'],
    [{ E2E_APP_URL: '', CI: 'true' }, server],
  ])('for %j is %s', (env, want) => {
    expect(appOrigin(env, server)).toBe(want);
  });

  it.each(['true', '1', 'TRUE'])('rejects E2E_APP_URL when CI is %s', (ci) => {
    expect(() => appOrigin({ E2E_APP_URL: 'http://127.0.0.1:5173', CI: ci }, server)).toThrow(/E2E_APP_URL/);
  });
});

describe('isCI', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['0', false],
    ['false', false],
    ['true', true],
    ['yes', true],
  ])('for CI=%j is %s', (ci, want) => {
    expect(isCI(ci === undefined ? {} : { CI: ci })).toBe(want);
  });
});
