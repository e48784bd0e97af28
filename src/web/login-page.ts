import { escapeHtml } from './http-util.js';

/**
 * The login page: one password field for the operator token, posted as a plain form (it works
 * without script; nothing inline, so the strict CSP holds).
 */
export function loginPage(nodeName: string, error?: string): string {
  const alert = error === undefined ? '' : `<p class="login-error" role="alert" id="login-error">${escapeHtml(error)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in: steward console of ${escapeHtml(nodeName)}</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body class="login-body">
<main class="login">
<h1>steward <span class="muted">${escapeHtml(nodeName)}</span></h1>
<form method="post" action="/login">
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus${error === undefined ? '' : ' aria-describedby="login-error"'}>
<p class="muted">Run <code>steward token</code> on the node to print it.</p>
${alert}
<button type="submit">Log in</button>
</form>
</main>
</body>
</html>
`;
}
