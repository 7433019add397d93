// Sign-in in two steps (password, then a TOTP or recovery code), accepting
// an invitation, and first-time TOTP enrollment.

import { ApiError, describeError } from '../api';
import type { App } from '../app';
import { field, groupInFours, h, replace, statusLine } from '../dom';
import type { View } from '../router';
import type { Account } from '../session';

interface NewSession {
  token: string;
  id: string;
  expires_at: string;
  second_factor: boolean;
}

interface LoginResponse {
  second_factor_required: boolean;
  challenge?: string;
  challenge_expires_at?: string;
  session?: NewSession;
  account?: Account;
  second_factor_enrollment_required?: boolean;
}

// Sentences for the sign-in errors people meet; the server's own message
// is used for the rest.
function signInError(err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'unauthenticated':
        return 'The email address or password is not correct.';
      case 'rate_limited':
        return 'Too many failed attempts. Wait a few minutes, then try again, or ask the clinic to unlock your account.';
      case 'forbidden':
        return 'This account is disabled. Contact the clinic.';
      case 'busy':
        return 'The server is busy. Try again in a second.';
    }
  }
  return describeError(err);
}

// minPasswordLength is the server's minimum password length for a role:
// 8 characters for patients and 12 for staff.
export function minPasswordLength(role: string): number {
  return role === 'patient' ? 8 : 12;
}

// passwordHint states the length rule for role, or both rules when the
// role is not known yet.
export function passwordHint(role?: string): string {
  const advice = 'A few unrelated words make a strong password.';
  if (role === undefined) {
    return `At least ${minPasswordLength('patient')} characters, or ${minPasswordLength('clinician')} for clinic staff. ${advice}`;
  }
  return `At least ${minPasswordLength(role)} characters. ${advice}`;
}

function submitButton(label: string): HTMLButtonElement {
  return h('button', { type: 'submit', class: 'primary' }, label);
}

// busy disables a form's controls while a request runs.
async function busy<T>(form: HTMLFormElement, fn: () => Promise<T>): Promise<T> {
  const controls = Array.from(form.elements) as (HTMLInputElement | HTMLButtonElement)[];
  controls.forEach((c) => (c.disabled = true));
  form.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    controls.forEach((c) => (c.disabled = false));
    form.removeAttribute('aria-busy');
  }
}

export function signInView(app: App): View {
  const prefillEmail = app.prefillEmail;
  app.prefillEmail = '';
  const notice = statusLine();
  if (app.notice) {
    notice.set(app.notice, 'info');
    app.notice = '';
  }
  const panel = h('section', { class: 'panel narrow' });
  const status = statusLine('assertive');

  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, value: prefillEmail });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    { novalidate: false },
    field('Email address', email),
    field('Password', password),
    status,
    submitButton('Continue'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    status.set('');
    void busy(form, async () => {
      try {
        const res = await app.api.post<LoginResponse>('/api/v1/auth/login', {
          email: email.value.trim(),
          password: password.value,
        });
        password.value = '';
        if (res.second_factor_required && res.challenge) {
          replace(panel, codeStep(app, res.challenge));
          panel.querySelector('input')?.focus();
          return;
        }
        await finish(app, res);
      } catch (err) {
        status.set(signInError(err), 'error');
        password.focus();
      }
    });
  });

  replace(
    panel,
    h('h1', null, 'Sign in to Bedside'),
    notice,
    form,
    h(
      'p',
      { class: 'small muted' },
      'Received an invitation from your clinic? ',
      h('a', { href: '/invite' }, 'Set up your account'),
      '.',
    ),
  );
  return { el: panel, title: 'Sign in' };
}

function codeStep(app: App, challenge: string): HTMLElement {
  const status = statusLine('assertive');
  const code = h('input', {
    type: 'text',
    name: 'code',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    class: 'code-input',
    required: true,
    maxlength: '24',
  });
  const form = h(
    'form',
    null,
    field(
      'Code from your authenticator app',
      code,
      'Open the authenticator app on your phone and type the six-digit code for Bedside. ' +
        'If you lost your phone, type one of your recovery codes instead.',
    ),
    status,
    submitButton('Sign in'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    status.set('');
    void busy(form, async () => {
      try {
        const res = await app.api.post<LoginResponse>('/api/v1/auth/login/second-factor', {
          challenge,
          code: code.value.replace(/\s+/g, ''),
        });
        await finish(app, res);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'invalid_token') {
          app.notice = 'The sign-in took too long or had too many wrong codes. Enter your password again.';
          app.go('/signin', { replace: true });
          return;
        }
        status.set(
          err instanceof ApiError && err.code === 'invalid_code'
            ? 'That code is not correct or was already used. Wait for the next code in the app and type it.'
            : signInError(err),
          'error',
        );
        code.select();
      }
    });
  });
  return h('div', null, h('h1', null, 'Two-step sign-in'), form);
}

async function finish(app: App, res: LoginResponse): Promise<void> {
  if (!res.session) throw new Error('The server did not return a session. Try again.');
  await app.session.begin(res.session.token, res.session.second_factor);
  if (res.second_factor_enrollment_required) {
    app.go('/enroll', { replace: true });
    return;
  }
  app.go(app.homePath(), { replace: true });
}

interface Enrollment {
  otpauth_uri: string;
  secret: string;
  qr_png: string; // base64 of a PNG image
}

// enrollView sets up TOTP for the signed-in account. Staff reach it right
// after their first sign-in; patients from the account page.
export async function enrollView(app: App): Promise<View> {
  const panel = h('section', { class: 'panel narrow' });
  if (!app.session.me) {
    app.go('/signin', { replace: true });
    return { el: panel, title: 'Sign in' };
  }
  if (app.session.me.second_factor) {
    replace(
      panel,
      h('h1', null, 'Two-step sign-in is set up'),
      h('p', null, 'Your account already uses an authenticator app.'),
      h('a', { href: app.homePath(), class: 'button primary' }, 'Continue'),
    );
    return { el: panel, title: 'Two-step sign-in' };
  }
  const enr = await app.api.post<Enrollment>('/api/v1/me/totp');
  const status = statusLine('assertive');
  const code = h('input', {
    type: 'text',
    name: 'code',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    class: 'code-input',
    required: true,
    maxlength: '6',
    pattern: '[0-9]{6}',
  });
  const form = h('form', null, field('Six-digit code from the app', code), status, submitButton('Confirm'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    status.set('');
    void busy(form, async () => {
      try {
        const res = await app.api.post<{ recovery_codes: string[] }>('/api/v1/me/totp/confirm', {
          code: code.value.replace(/\s+/g, ''),
        });
        await app.session.refresh();
        replace(panel, recoveryCodes(app, res.recovery_codes));
        panel.querySelector('h1')?.focus();
      } catch (err) {
        status.set(
          err instanceof ApiError && err.code === 'invalid_code'
            ? 'That code is not correct. Check the time on your phone and type the newest code.'
            : signInError(err),
          'error',
        );
        code.select();
      }
    });
  });
  replace(
    panel,
    h('h1', null, 'Set up two-step sign-in'),
    h(
      'p',
      null,
      app.session.me.role === 'patient'
        ? 'A code from your phone protects your account even if someone learns your password.'
        : 'Staff accounts must use a code from an authenticator app in addition to the password.',
    ),
    h(
      'ol',
      null,
      h('li', null, 'Open an authenticator app on your phone and add an account.'),
      h(
        'li',
        null,
        'Scan this code:',
        h('img', {
          class: 'qr',
          src: `data:image/png;base64,${enr.qr_png}`,
          alt: 'QR code to add Bedside to your authenticator app',
          width: '220',
          height: '220',
        }),
        h(
          'p',
          { class: 'small' },
          'Or type this key (the spaces are only for reading): ',
          h('code', { class: 'secret key-groups', 'data-testid': 'totp-secret' }, groupInFours(enr.secret)),
        ),
      ),
      h('li', null, 'Type the six-digit code the app shows.'),
    ),
    form,
  );
  return { el: panel, title: 'Set up two-step sign-in' };
}

function recoveryCodes(app: App, codes: string[]): HTMLElement {
  const done = h('a', { href: app.homePath(), class: 'button primary' }, 'I have saved my recovery codes');
  return h(
    'div',
    null,
    h('h1', null, 'Save your recovery codes'),
    h(
      'p',
      null,
      'If you lose your phone, each of these codes lets you sign in once. Print them or write them down and keep them ' +
        'somewhere safe. They are shown only now.',
    ),
    h('ul', { class: 'codes', 'aria-label': 'Recovery codes' }, ...codes.map((c) => h('li', null, c))),
    done,
  );
}

// inviteView sets a password for an invited account. The token comes from
// the person who created the invitation and is typed or pasted here, never
// passed in a URL.
export function inviteView(app: App): View {
  const panel = h('section', { class: 'panel narrow' });
  const status = statusLine('assertive');
  const token = h('input', { type: 'text', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', maxlength: '100' });
  // The invitation code does not tell the browser the role, so the field
  // allows the patient minimum and the hint states both rules.
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'new-password',
    required: true,
    minlength: String(minPasswordLength('patient')),
  });
  const again = h('input', { type: 'password', name: 'password2', autocomplete: 'new-password', required: true });
  const form = h(
    'form',
    null,
    field('Invitation code', token, 'The code your clinic gave you. It works once.'),
    field('Your name', name, 'Shown to your clinic and in conversations. Optional if the clinic already entered it.'),
    field('New password', password, passwordHint()),
    field('New password again', again),
    status,
    submitButton('Create my account'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    status.set('');
    if (password.value !== again.value) {
      status.set('The two passwords are different. Type the same password twice.', 'error');
      again.focus();
      return;
    }
    void busy(form, async () => {
      try {
        const res = await app.api.post<{ account: Account }>('/api/v1/invitations/accept', {
          token: token.value.trim(),
          password: password.value,
          display_name: name.value.trim(),
        });
        password.value = '';
        again.value = '';
        app.notice = 'Your account is ready. Sign in with your new password.';
        app.prefillEmail = res.account.email;
        app.go('/signin', { replace: true });
      } catch (err) {
        status.set(
          err instanceof ApiError && err.code === 'invalid_token'
            ? 'The invitation code is not valid, was already used or has expired. Ask the clinic for a new one.'
            : describeError(err),
          'error',
        );
      }
    });
  });
  replace(
    panel,
    h('h1', null, 'Set up your account'),
    h('p', null, 'Your clinic invited you to Bedside. Choose a password to finish.'),
    form,
  );
  return { el: panel, title: 'Set up your account' };
}
