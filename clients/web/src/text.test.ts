import { describe, expect, it } from 'vitest';
import { ApiError, asSentence, describeError } from './api';
import { groupInFours } from './dom';
import { notSentMessage } from './views/chat';
import { minPasswordLength, passwordHint } from './views/signin';
import { disableDialog, resetDialog, roleDialog } from './views/admin';
import type { Account } from './session';
import { describeUserAgent } from './useragent';

describe('asSentence', () => {
  it.each([
    ['the server had a problem', 'The server had a problem.'],
    ['Try again in a moment.', 'Try again in a moment.'],
    ['Is it on?', 'Is it on?'],
    ['  padded  ', 'Padded.'],
    ['', ''],
  ])('turns %j into %j', (text, want) => {
    expect(asSentence(text)).toBe(want);
  });
});

describe('notSentMessage', () => {
  it('keeps one full stop and one "try again" for a server fault', () => {
    const err = new ApiError(500, 'internal', 'The server had a problem. Try again in a moment.');
    const got = notSentMessage(err);
    expect(got).toBe('Not sent. The server had a problem. Try again in a moment. Your text is still in the box.');
    expect(got).not.toMatch(/\.\./);
    expect(got.match(/try again/gi)).toHaveLength(1);
  });

  it('adds the advice to try again when the error lacks it', () => {
    const err = new ApiError(413, 'body_too_large', 'message too large');
    expect(notSentMessage(err)).toBe('Not sent. Message too large. Your text is still in the box. Try again.');
  });

  it('describes a plain Error as a sentence', () => {
    expect(describeError(new Error('no route'))).toBe('No route.');
  });
});

describe('groupInFours', () => {
  it.each([
    ['JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP'],
    ['ABCDEF', 'ABCD EF'],
    ['ABCD', 'ABCD'],
    ['AB CD EF', 'ABCD EF'],
    ['', ''],
  ])('groups %j', (key, want) => {
    expect(groupInFours(key)).toBe(want);
  });
});

describe('passwordHint', () => {
  it.each([
    ['patient', 8, 'At least 8 characters.'],
    ['clinician', 12, 'At least 12 characters.'],
    ['nurse', 12, 'At least 12 characters.'],
    ['admin', 12, 'At least 12 characters.'],
  ])('for a %s', (role, min, start) => {
    expect(minPasswordLength(role)).toBe(min);
    expect(passwordHint(role).startsWith(start)).toBe(true);
  });

  it('states both rules when the role is unknown', () => {
    expect(passwordHint()).toMatch(/^At least 8 characters, or 12 for clinic staff\./);
  });
});

describe('admin confirmation dialogs', () => {
  const nurse: Account = {
    id: 'n1',
    email: 'nurse.joy@clinic.test',
    display_name: 'Nurse Joy',
    role: 'nurse',
    status: 'active',
    second_factor: true,
    created_at: '2030-01-01T00:00:00Z',
    recovery_codes_left: 10,
  };

  it('names the person, both roles and the end of the sessions for a role change', () => {
    const d = roleDialog(nurse, 'clinician');
    const text = [d.title, ...d.paragraphs].join(' ');
    expect(d.title).toBe('Change the role of Nurse Joy?');
    expect(text).toContain('nurse.joy@clinic.test');
    expect(text).toContain('from Nurse to Clinician');
    expect(text).toMatch(/session.*ends now/);
    expect(d.confirmLabel).toBe('Change role to Clinician');
    expect(d.danger).toBe(true);
  });

  it('names the person and the end of the sessions for disable and reset', () => {
    for (const d of [disableDialog(nurse), resetDialog(nurse)]) {
      const text = [d.title, ...d.paragraphs].join(' ');
      expect(text).toContain('Nurse Joy');
      expect(text).toContain('nurse.joy@clinic.test');
      expect(text).toMatch(/session.*ends now/);
      expect(d.danger).toBe(true);
    }
  });

  it('tells that a patient may sign in without a second factor after a reset', () => {
    const d = resetDialog({ ...nurse, role: 'patient', display_name: '' });
    expect(d.title).toBe('Reset two-step sign-in of nurse.joy@clinic.test?');
    expect(d.paragraphs.join(' ')).toContain('password alone');
  });
});

describe('describeUserAgent of a cut string', () => {
  it('never shows the raw string', () => {
    const cut = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessC';
    expect(describeUserAgent(cut)).toBe('Browser on Linux');
  });
});
