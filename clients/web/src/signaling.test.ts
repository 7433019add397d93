import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Signaling, SignalError, type SignalMessage } from './signaling';

// FakeSocket replaces the browser's WebSocket. The tests drive its
// open, message and close events and count the sockets the client opens.
class FakeSocket extends EventTarget {
  static readonly OPEN = 1;
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: SignalMessage[] = [];

  constructor(
    readonly url: string,
    readonly protocol: string,
  ) {
    super();
    FakeSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as SignalMessage);
  }

  close(): void {
    this.readyState = 3;
  }

  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }

  receive(msg: SignalMessage): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data: JSON.stringify(msg) }));
  }

  closeWith(code: number): void {
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event('close'), { code }));
  }
}

function newSignaling(): Signaling {
  return new Signaling(
    () => 'session-token',
    'test device',
    () => {},
  );
}

// authenticate opens the newest socket and replies auth-ok to its auth message.
function authenticate(): FakeSocket {
  const ws = FakeSocket.instances[FakeSocket.instances.length - 1];
  ws.open();
  ws.receive({ type: 'auth-ok', user: 'u1', role: 'patient' });
  return ws;
}

describe('Signaling close codes', () => {
  beforeEach(() => {
    FakeSocket.instances = [];
    vi.useFakeTimers();
    vi.stubGlobal('window', globalThis);
    vi.stubGlobal('location', { protocol: 'http:', host: '127.0.0.1:8080' });
    vi.stubGlobal('WebSocket', FakeSocket);
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('stops reconnecting after 4011 with advice', async () => {
    const sig = newSignaling();
    const events: SignalMessage[] = [];
    sig.on('too-many-connections', (m) => events.push(m));
    const connected = sig.connect();
    authenticate();
    await connected;

    FakeSocket.instances[0].closeWith(4011);
    await vi.advanceTimersByTimeAsync(60000);

    expect(sig.state).toBe('closed');
    expect(FakeSocket.instances.length, 'sockets opened').toBe(1);
    expect(events.length, 'too-many-connections events').toBe(1);
    expect(String(events[0].message)).toContain('Close another tab or device');
  });

  it('rejects connect with too-many-connections on 4011 before auth', async () => {
    const sig = newSignaling();
    const connected = sig.connect();
    const rejected = expect(connected).rejects.toMatchObject({ code: 'too-many-connections' });
    FakeSocket.instances[0].open();
    FakeSocket.instances[0].closeWith(4011);
    await rejected;
    await expect(connected).rejects.toBeInstanceOf(SignalError);
    await vi.advanceTimersByTimeAsync(60000);
    expect(FakeSocket.instances.length, 'sockets opened').toBe(1);
  });

  it('reconnects with backoff after 1011', async () => {
    const sig = newSignaling();
    const connected = sig.connect();
    authenticate();
    await connected;

    FakeSocket.instances[0].closeWith(1011);
    expect(sig.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(16000);

    expect(FakeSocket.instances.length, 'sockets opened').toBe(2);
    const second = authenticate();
    await vi.advanceTimersByTimeAsync(0);
    expect(sig.state).toBe('open');
    expect(second.sent[0]).toMatchObject({ type: 'auth', token: 'session-token' });
  });
});
