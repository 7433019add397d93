// Labels for the other people in a chat or a call. The API shares no
// account's display name with other accounts, so people are told apart by
// role and the last characters of their account id, which never change.

import { roleLabel } from './session';

export interface Person {
  userId: string;
  // Account or consultation role: patient, clinician, nurse.
  role: string;
  // Consultation participant kind (patient, clinician, guest), when known.
  kind?: string;
}

// minSuffix is the shortest id ending shown: 16 bits of a random id, enough
// to tell apart the handful of people in one care team or call.
const minSuffix = 4;

// isThePatient reports whether p is the patient the conversation or
// consultation is about, who is named "the patient" without an id.
function isThePatient(p: Person, patientId: string | undefined): boolean {
  if (p.kind) return p.kind === 'patient';
  return p.role === 'patient' && (patientId === undefined || p.userId === patientId);
}

// suffixLength returns the shortest id ending, from minSuffix up, that
// differs between every two ids.
export function suffixLength(ids: string[]): number {
  const longest = Math.max(minSuffix, ...ids.map((id) => id.length));
  for (let n = minSuffix; n < longest; n++) {
    if (new Set(ids.map((id) => id.slice(-n))).size === ids.length) return n;
  }
  return longest;
}

// labelPeople returns a label for each person: "the patient" for the
// patient, and otherwise the role and the end of the account id, such as
// "Clinician (…3f2a)". Labels are distinct for distinct user ids.
export function labelPeople(people: Person[], patientId?: string): Map<string, string> {
  const labels = new Map<string, string>();
  const others = people.filter((p) => !isThePatient(p, patientId));
  const n = suffixLength([...new Set(others.map((p) => p.userId))]);
  for (const p of people) {
    if (isThePatient(p, patientId)) {
      labels.set(p.userId, 'the patient');
      continue;
    }
    const base = p.kind === 'guest' ? 'Guest' : roleLabel(p.role);
    labels.set(p.userId, `${base} (…${p.userId.slice(-n)})`);
  }
  return labels;
}

// namer returns a function that labels user ids from labels, falling back
// to fallback and the end of the id for someone not in the list, such as
// a former care team member.
export function namer(labels: Map<string, string>, fallback: string): (userId: string) => string {
  return (u) => labels.get(u) ?? `${fallback} (…${u.slice(-minSuffix)})`;
}
