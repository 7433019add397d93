// The plain-language page on how Bedside protects patients' data. It is
// public (no sign-in) so patients can read it before their first visit.
// Every statement here must stay true to what the server and this app do.

import { h } from '../dom';
import type { View } from '../router';

function section(title: string, ...body: (HTMLElement | string)[]): HTMLElement {
  return h('section', { 'aria-labelledby': `privacy-${slug(title)}` }, h('h2', { id: `privacy-${slug(title)}` }, title), ...body);
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

function list(...items: (string | HTMLElement)[]): HTMLElement {
  return h('ul', null, ...items.map((i) => h('li', null, i)));
}

function steps(...items: string[]): HTMLElement {
  return h('ol', null, ...items.map((i) => h('li', null, i)));
}

export function privacyView(): View {
  const el = h(
    'article',
    { class: 'panel prose' },
    h('h1', null, 'How Bedside protects your data'),
    h(
      'p',
      null,
      'Bedside is run by your clinic on its own server. This page explains, without jargon, ' +
        'who can read what you share, and what you can do to keep it safe.',
    ),

    section(
      'Your messages and photos',
      h(
        'p',
        null,
        'Messages and photos you send in Bedside are locked on your phone or computer before they leave it ' +
          '(end-to-end encryption). Only the devices of the people in the conversation hold the keys to unlock them.',
      ),
      list(
        'The clinic’s server stores and forwards the locked messages but cannot read them.',
        'Administrators manage accounts and read the security log, but they are not part of your ' +
          'conversations and cannot read them either.',
        'Each device you use has its own keys. They are created on the device and cannot be copied out of the browser.',
        'If someone stole the server’s database, they would find only scrambled text.',
      ),
    ),

    section(
      'Your video calls',
      h(
        'p',
        null,
        'Video and sound are encrypted between your device and the clinic’s server (DTLS-SRTP), so nobody on the ' +
          'network in between can watch or listen. The server itself passes the video on to the other participants, ' +
          'so the clinic’s server could technically access the call while it happens. Bedside has no recording feature.',
      ),
      h(
        'p',
        null,
        'During a call, the panel next to the video shows how it is protected and whether the video goes straight ' +
          'to the server or through the clinic’s relay (used when a firewall blocks the direct route). Both are encrypted.',
      ),
    ),

    section(
      'What the server does know',
      list(
        'Who has an account, who talks to whom and when, and how large messages are.',
        'When consultations are booked and who joined them.',
        'A security log of sign-ins and access to records. It lists who did what and when, never what was written.',
      ),
    ),

    section(
      'Set up two-step sign-in',
      h(
        'p',
        null,
        'Bedside asks for a six-digit code from an authenticator app on your phone in addition to your password, so ' +
          'a stolen password alone is not enough. Staff must use it; patients are strongly encouraged to.',
      ),
      steps(
        'Install an authenticator app on your phone, for example one from your phone’s maker or a password manager.',
        'Sign in to Bedside. When asked to set up two-step sign-in, open the app and scan the square code shown on ' +
          'the screen, or type the text key shown below it.',
        'Type the six-digit code the app shows to confirm.',
        'Write down the recovery codes Bedside shows once, and keep them somewhere safe. Each works one time if you lose your phone.',
      ),
    ),

    section(
      'Compare your safety number',
      h(
        'p',
        null,
        'Each conversation has a safety number: a short list of words made from the keys of both people. If the words ' +
          'match on both screens, nobody, not even the server, has slipped an extra device into the conversation.',
      ),
      steps(
        'Open the conversation and choose “Safety number”.',
        'During your video call, read the words aloud to the other person while they look at their screen.',
        'If every word matches, mark the number as checked. If it does not match, stop sending private details and ' +
          'tell the clinic.',
      ),
      h(
        'p',
        null,
        'The number changes only if someone starts over with new keys, for example after losing every device. Bedside then ' +
          'stops sending to them and shows the new number until you have compared it. When someone adds or removes a phone or ' +
          'computer, the conversation tells you, so you can compare again.',
      ),
    ),

    section(
      'Use a private network',
      h(
        'p',
        null,
        'Your home Wi-Fi with a password, or your phone’s mobile data, is safer than free public Wi-Fi in a café, ' +
          'hotel or station. Bedside encrypts everything it sends, but on a public network others can see which ' +
          'services you use and when, can try to trick your device with a fake network of the same name, and can ' +
          'slow or break your call.',
      ),
      list(
        'Prefer mobile data to public Wi-Fi for consultations.',
        'Check that the address bar shows your clinic’s address and a padlock before you sign in.',
        'Never type your code into a page you reached from an e-mail link you did not expect.',
      ),
    ),

    section(
      'If something looks wrong',
      h(
        'p',
        null,
        'Tell your clinic if you see a sign-in you do not recognise, a new device you did not add, or a safety number that ' +
          'does not match. On your account page you can end any session you do not recognise, and an administrator can ' +
          'disable the account, which ends all its sessions at once.',
      ),
    ),
  );
  return { el, title: 'How Bedside protects your data' };
}
