import { describe, expect, it } from 'vitest';
import { labelPeople, namer, suffixLength } from './people';

const patient = '0000000000000000000000000000aaaa';
const clinicianA = 'c1c1c1c1c1c1c1c1c1c1c1c1c1c13f2a';
const clinicianB = 'c2c2c2c2c2c2c2c2c2c2c2c2c2c2b7e1';
const nurse = 'd4d4d4d4d4d4d4d4d4d4d4d4d4d40c9d';

describe('labelPeople', () => {
  it('names the patient and labels staff by role and id ending', () => {
    const got = labelPeople(
      [
        { userId: patient, role: 'patient', kind: 'patient' },
        { userId: clinicianA, role: 'clinician', kind: 'clinician' },
        { userId: clinicianB, role: 'clinician', kind: 'clinician' },
        { userId: nurse, role: 'nurse', kind: 'clinician' },
      ],
      patient,
    );
    expect(got.get(patient)).toBe('the patient');
    expect(got.get(clinicianA)).toBe('Clinician (…3f2a)');
    expect(got.get(clinicianB)).toBe('Clinician (…b7e1)');
    expect(got.get(nurse)).toBe('Nurse (…0c9d)');
  });

  it('gives distinct labels to ids with the same ending', () => {
    const a = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa1234';
    const b = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbb1234';
    const got = labelPeople([
      { userId: a, role: 'clinician' },
      { userId: b, role: 'clinician' },
    ]);
    expect(got.get(a)).toBe('Clinician (…a1234)');
    expect(got.get(b)).toBe('Clinician (…b1234)');
  });

  it('labels a guest of a consultation as a guest', () => {
    const guest = 'e5e5e5e5e5e5e5e5e5e5e5e5e5e51111';
    const got = labelPeople(
      [
        { userId: patient, role: 'patient', kind: 'patient' },
        { userId: guest, role: 'patient', kind: 'guest' },
      ],
      patient,
    );
    expect(got.get(patient)).toBe('the patient');
    expect(got.get(guest)).toBe('Guest (…1111)');
  });

  it('treats only the subject as the patient when kinds are unknown', () => {
    const other = 'f6f6f6f6f6f6f6f6f6f6f6f6f6f62222';
    const got = labelPeople(
      [
        { userId: patient, role: 'patient' },
        { userId: other, role: 'patient' },
      ],
      patient,
    );
    expect(got.get(patient)).toBe('the patient');
    expect(got.get(other)).toBe('Patient (…2222)');
  });
});

describe('labelPeople with display names', () => {
  it('labels people by name and role', () => {
    const got = labelPeople(
      [
        { userId: patient, role: 'patient', kind: 'patient', displayName: 'Pat Doe' },
        { userId: clinicianA, role: 'clinician', kind: 'clinician', displayName: 'Dr Lee' },
        { userId: nurse, role: 'nurse', kind: 'clinician', displayName: 'Sam Ray' },
      ],
      patient,
    );
    expect(got.get(patient)).toBe('Pat Doe (patient)');
    expect(got.get(clinicianA)).toBe('Dr Lee (clinician)');
    expect(got.get(nurse)).toBe('Sam Ray (nurse)');
  });

  it('adds id endings to people with the same name and role', () => {
    const got = labelPeople([
      { userId: clinicianA, role: 'clinician', displayName: 'Dr Lee' },
      { userId: clinicianB, role: 'clinician', displayName: 'Dr Lee' },
      { userId: nurse, role: 'nurse', displayName: 'Dr Lee' },
    ]);
    expect(got.get(clinicianA)).toBe('Dr Lee (clinician, …3f2a)');
    expect(got.get(clinicianB)).toBe('Dr Lee (clinician, …b7e1)');
    expect(got.get(nurse)).toBe('Dr Lee (nurse)');
  });

  it('falls back for people without a name', () => {
    const got = labelPeople(
      [
        { userId: patient, role: 'patient', kind: 'patient' },
        { userId: clinicianA, role: 'clinician', displayName: 'Dr Lee' },
        { userId: nurse, role: 'nurse', displayName: '' },
      ],
      patient,
    );
    expect(got.get(patient)).toBe('the patient');
    expect(got.get(clinicianA)).toBe('Dr Lee (clinician)');
    expect(got.get(nurse)).toBe('Nurse (…0c9d)');
  });

  it('labels a named guest as a guest', () => {
    const guest = 'e5e5e5e5e5e5e5e5e5e5e5e5e5e51111';
    const got = labelPeople([{ userId: guest, role: 'patient', kind: 'guest', displayName: 'Kim' }], patient);
    expect(got.get(guest)).toBe('Kim (guest)');
  });
});

describe('suffixLength', () => {
  it.each([
    [[], 4],
    [['abcdef'], 4],
    [['xx1234', 'yy1234'], 5],
    [['same', 'same'], 4],
  ])('for %j is %d', (ids, want) => {
    expect(suffixLength(ids)).toBe(want);
  });
});

describe('namer', () => {
  it('falls back for someone not in the list', () => {
    const nameOf = namer(new Map([[patient, 'the patient']]), 'Care team member');
    expect(nameOf(patient)).toBe('the patient');
    expect(nameOf(nurse)).toBe('Care team member (…0c9d)');
  });
});
