// Seeds a fresh server through its public interfaces only: the first
// administrator comes from `bedside admin create-user` (the control
// socket), everyone else from invitations over the HTTP API, the way a
// clinic sets itself up. Passwords and TOTP secrets stay in memory.

import { Totp } from './lib.mjs';
export { Totp };

export class ApiClient {
  constructor(base, token = '') {
    this.base = base;
    this.token = token;
  }

  async call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: got status ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  }
}

// parseToken reads the enrollment token that `bedside admin create-user`
// prints on the line after "enrollment token".
export function parseToken(output) {
  const lines = output.split('\n').map((l) => l.trim());
  const i = lines.findIndex((l) => l.startsWith('enrollment token'));
  const token = i >= 0 ? lines[i + 1] : '';
  if (!token) throw new Error(`no enrollment token in the output of admin create-user:\n${output}`);
  return token;
}

// Person is one seeded account with everything a test needs to sign in.
export class Person {
  constructor(role, email, name) {
    this.role = role;
    this.email = email;
    this.name = name;
    this.password = `violet tractor humming ${Math.random().toString(36).slice(2, 10)}`;
    this.id = '';
    this.totp = null;
  }
}

async function acceptAndEnroll(base, person, token) {
  const anon = new ApiClient(base);
  const accepted = await anon.call('POST', '/api/v1/invitations/accept', {
    token,
    password: person.password,
    display_name: person.name,
  });
  person.id = accepted.account.id;
  const login = await anon.call('POST', '/api/v1/auth/login', { email: person.email, password: person.password });
  if (!login.session) throw new Error(`sign-in of new ${person.role} returned no session: ${JSON.stringify(login)}`);
  const client = new ApiClient(base, login.session.token);
  const enr = await client.call('POST', '/api/v1/me/totp');
  person.totp = new Totp(enr.secret);
  const confirm = await client.call('POST', '/api/v1/me/totp/confirm', { code: await person.totp.code() });
  if (!Array.isArray(confirm.recovery_codes) || confirm.recovery_codes.length === 0) {
    throw new Error('TOTP confirmation returned no recovery codes');
  }
  return client;
}

// seed creates an administrator, a clinician, a patient in the clinician's
// care and a consultation between them that starts now. It returns the
// people, the consultation id and an admin API client.
export async function seed(server) {
  const admin = new Person('admin', 'admin@clinic.test', 'Ada Admin');
  const clinician = new Person('clinician', 'dr.grey@clinic.test', 'Dr Meredith Grey');
  const patient = new Person('patient', 'pat@example.test', 'Pat Patient');

  const out = await server.run([
    'admin', 'create-user', '--data-dir', server.dataDir,
    '--email', admin.email, '--role', 'admin', '--name', admin.name,
  ]);
  const adminClient = await acceptAndEnroll(server.base, admin, parseToken(out));

  const clients = {};
  for (const p of [clinician, patient]) {
    const inv = await adminClient.call('POST', '/api/v1/invitations', { email: p.email, role: p.role, display_name: p.name });
    // Confirming TOTP marks the enrollment session as second-factor verified.
    clients[p.role] = await acceptAndEnroll(server.base, p, inv.token);
  }

  await adminClient.call('POST', `/api/v1/patients/${patient.id}/care-team`, { user_id: clinician.id });

  const clinicianClient = clients.clinician;
  const start = new Date(Date.now() + 5000);
  const end = new Date(start.getTime() + 30 * 60 * 1000);
  const consultation = await clinicianClient.call('POST', '/api/v1/consultations', {
    patient_id: patient.id,
    start: start.toISOString(),
    end: end.toISOString(),
    staff_ids: [],
  });
  await clinicianClient.call('POST', '/api/v1/auth/logout');
  await clients.patient.call('POST', '/api/v1/auth/logout');

  // A nurse who sets up her account in the browser: only the invitation
  // exists so far.
  const nurse = new Person('nurse', 'nurse.joy@clinic.test', 'Nurse Joy');
  const nurseInvite = await adminClient.call('POST', '/api/v1/invitations', { email: nurse.email, role: 'nurse', display_name: '' });
  return { admin, clinician, patient, nurse, nurseToken: nurseInvite.token, consultationId: consultation.id, adminClient };
}
