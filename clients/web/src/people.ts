// Labels for the other people in a chat or a call. A label is the display
// name and role from GET /api/v1/conversations/{id}/members. When that
// request fails or an account has no name, it is the role and the last
// characters of the account id, which never change.

import { roleLabel } from './session';

export interface Person {
  userId: string;
  // Account or consultation role: patient, clinician, nurse.
  role: string;
  // Consultation participant kind (patient, clinician, guest), when known.
  kind?: string;
  // Account display name, when the members endpoint returned one.
  displayName?: string;
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

// labelPeople returns a label for each person. Someone with a display name
// is labelled by it and the role, such as "Pat Doe (patient)". Without a
// name, the patient is "the patient" and anyone else gets the role and the
// end of the account id, such as "Clinician (…3f2a)". Labels are distinct
// for distinct user ids: two people with the same name and role also get
// the end of their ids, such as "Dr Lee (clinician, …3f2a)".
export function labelPeople(people: Person[], patientId?: string): Map<string, string> {
  const labels = new Map<string, string>();
  const unnamed = people.filter((p) => !p.displayName && !isThePatient(p, patientId));
  const n = suffixLength([...new Set(unnamed.map((p) => p.userId))]);
  const named = new Map<string, Person[]>();
  for (const p of people) {
    if (p.displayName) {
      const key = namedLabel(p, '');
      named.set(key, [...(named.get(key) ?? []).filter((q) => q.userId !== p.userId), p]);
      continue;
    }
    if (isThePatient(p, patientId)) {
      labels.set(p.userId, 'the patient');
      continue;
    }
    labels.set(p.userId, `${roleWord(p)} (…${p.userId.slice(-n)})`);
  }
  for (const group of named.values()) {
    const m = group.length > 1 ? suffixLength(group.map((p) => p.userId)) : 0;
    for (const p of group) labels.set(p.userId, namedLabel(p, m ? `, …${p.userId.slice(-m)}` : ''));
  }
  return labels;
}

function roleWord(p: Person): string {
  return p.kind === 'guest' ? 'Guest' : roleLabel(p.role);
}

// namedLabel returns "Name (role)", with suffix added inside the brackets.
function namedLabel(p: Person, suffix: string): string {
  return `${p.displayName} (${roleWord(p).toLowerCase()}${suffix})`;
}

// namer returns a function that labels user ids from labels, falling back
// to fallback and the end of the id for someone not in the list, such as
// a former care team member.
export function namer(labels: Map<string, string>, fallback: string): (userId: string) => string {
  return (u) => labels.get(u) ?? `${fallback} (…${u.slice(-minSuffix)})`;
}
