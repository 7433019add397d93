import { describe, expect, it } from 'vitest';
import { compileRoute, matchRoute } from './router';
import { isOpen, type Consultation } from './views/consultations';
import { alertLabel } from './views/admin';
import { fromBase64, safeImageType, toBase64 } from './messenger';
import { describeUserAgent } from './useragent';

describe('describeUserAgent', () => {
  it.each([
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1', 'Safari on iOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox on Windows'],
    ['Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0', 'Edge on Windows'],
    ['curl/8.0', 'Browser'],
  ])('names %s', (ua, want) => {
    expect(describeUserAgent(ua)).toBe(want);
  });
});

describe('matchRoute', () => {
  const route = compileRoute('/threads/:id');
  it.each([
    ['/threads/care%3Aabc', { id: 'care:abc' }],
    ['/threads/care:abc/', { id: 'care:abc' }],
    ['/threads/', null],
    ['/threads/a/b', null],
    ['/threads/%E0%A4%A', null],
    ['/other/x', null],
  ])('matches %s', (path, want) => {
    expect(matchRoute(route, path)).toEqual(want);
  });

  it('treats dots in a path literally', () => {
    expect(matchRoute(compileRoute('/a.b'), '/axb')).toBeNull();
  });
});

describe('isOpen', () => {
  const now = Date.parse('2030-01-01T10:00:00Z');
  const c = (start: string, end: string, status = 'scheduled'): Consultation => ({
    id: 'c1',
    patient_id: 'p',
    participants: [],
    start,
    end,
    status,
    created_by: 'x',
  });
  it.each([
    ['starting now', c('2030-01-01T10:00:00Z', '2030-01-01T10:30:00Z'), true],
    ['in 10 minutes', c('2030-01-01T10:10:00Z', '2030-01-01T10:30:00Z'), true],
    ['in an hour', c('2030-01-01T11:00:00Z', '2030-01-01T11:30:00Z'), false],
    ['ended 20 minutes ago', c('2030-01-01T09:10:00Z', '2030-01-01T09:40:00Z'), true],
    ['ended an hour ago', c('2030-01-01T08:30:00Z', '2030-01-01T09:00:00Z'), false],
    ['cancelled', c('2030-01-01T10:00:00Z', '2030-01-01T10:30:00Z', 'cancelled'), false],
    ['only requested', c('2030-01-01T10:00:00Z', '2030-01-01T10:30:00Z', 'requested'), false],
    ['patient waiting', c('2030-01-01T10:00:00Z', '2030-01-01T10:30:00Z', 'waiting'), true],
  ])('%s', (_, consultation, want) => {
    expect(isOpen(consultation, now)).toBe(want);
  });
});

describe('alertLabel', () => {
  it('turns a type into words', () => {
    expect(alertLabel('failed_logins.account')).toBe('Failed logins account');
  });
});

describe('base64', () => {
  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromBase64(toBase64(all))).toEqual(all);
  });

  it('round-trips a buffer larger than one conversion block', () => {
    const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    expect(fromBase64(toBase64(big))).toEqual(big);
  });
});

describe('safeImageType', () => {
  it.each([
    ['image/png', 'image/png'],
    ['IMAGE/JPEG', 'image/jpeg'],
    ['text/html', 'application/octet-stream'],
    ['image/svg+xml', 'application/octet-stream'],
  ])('maps %s to %s', (type, want) => {
    expect(safeImageType(type)).toBe(want);
  });
});
