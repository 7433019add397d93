// The origin the browser test loads the app from. E2E_APP_URL points the
// test at a development proxy (vite) in front of the server. CI rejects
// it, because there the test must prove the app that the binary embeds.

// isCI reports whether env describes a CI run: CI set to anything but
// empty, 0 or false, as CI services and .ci/run set it.
export function isCI(env) {
  const v = (env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

// appOrigin returns E2E_APP_URL when set outside CI, else serverBase. It
// throws when CI is set together with E2E_APP_URL.
export function appOrigin(env, serverBase) {
  const override = env.E2E_APP_URL ?? '';
  if (!override) return serverBase;
  if (isCI(env)) {
    throw new Error(
      `E2E_APP_URL is set (${override}) while CI is ${JSON.stringify(env.CI)}: ` +
        'in CI the browser test must load the app embedded in the binary. Unset E2E_APP_URL.',
    );
  }
  return override;
}
