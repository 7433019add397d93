// The signed-in user and the session token. The token lives in memory and
// in sessionStorage, so it survives a reload of this tab but not closing
// it, and is never shared with other tabs or written into a URL.

import type { Api } from './api';

export type Role = 'patient' | 'clinician' | 'nurse' | 'admin' | 'billing';

export interface Account {
  id: string;
  email: string;
  display_name: string;
  role: Role;
  status: string;
  second_factor: boolean;
  created_at: string;
  recovery_codes_left: number;
}

interface MeResponse {
  account: Account;
  session_id: string;
  session_second_factor: boolean;
}

const storageKey = 'bedside.session';

interface Stored {
  token: string;
  secondFactor: boolean;
}

type Listener = (me: Account | null) => void;

export class Session {
  me: Account | null = null;
  // secondFactor is false for a staff session that may only enroll TOTP.
  secondFactor = false;
  private listeners: Listener[] = [];

  constructor(private api: Api) {}

  onChange(fn: Listener): void {
    this.listeners.push(fn);
  }

  // Restore the token kept in this tab and fetch the account. A token the
  // server no longer accepts is dropped.
  async restore(): Promise<void> {
    const raw = sessionStorage.getItem(storageKey);
    if (!raw) return;
    try {
      const stored = JSON.parse(raw) as Stored;
      this.api.setToken(stored.token);
      this.secondFactor = stored.secondFactor;
      await this.refresh();
    } catch {
      this.clear();
    }
  }

  // Start a session with a token from sign-in or invitation acceptance.
  async begin(token: string, secondFactor: boolean): Promise<Account> {
    this.api.setToken(token);
    this.secondFactor = secondFactor;
    sessionStorage.setItem(storageKey, JSON.stringify({ token, secondFactor } satisfies Stored));
    return this.refresh();
  }

  async refresh(): Promise<Account> {
    const res = await this.api.get<MeResponse>('/api/v1/me');
    this.me = res.account;
    this.secondFactor = res.session_second_factor;
    this.persist();
    this.emit();
    return res.account;
  }

  private persist(): void {
    const token = this.api.currentToken();
    if (token) {
      sessionStorage.setItem(storageKey, JSON.stringify({ token, secondFactor: this.secondFactor } satisfies Stored));
    }
  }

  // Forget the session locally; signOut also revokes it on the server.
  clear(): void {
    this.api.setToken(null);
    this.me = null;
    this.secondFactor = false;
    sessionStorage.removeItem(storageKey);
    this.emit();
  }

  async signOut(): Promise<void> {
    try {
      await this.api.post('/api/v1/auth/logout');
    } catch {
      // The session may already be gone; clearing locally is what matters.
    }
    this.clear();
  }

  isStaff(): boolean {
    return this.me !== null && this.me.role !== 'patient';
  }

  private emit(): void {
    for (const fn of this.listeners) fn(this.me);
  }
}

export function roleLabel(role: Role | string): string {
  switch (role) {
    case 'patient':
      return 'Patient';
    case 'clinician':
      return 'Clinician';
    case 'nurse':
      return 'Nurse';
    case 'admin':
      return 'Administrator';
    case 'billing':
      return 'Billing';
    default:
      return role;
  }
}
