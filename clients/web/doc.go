// Package web embeds the browser app for patients, clinicians and admins
// and serves it over HTTP.
//
// The app is TypeScript in this directory, built by `npm run build` (vite)
// into dist/, which the package embeds. Handler serves dist as a
// single-page app: hashed assets with a long cache lifetime, index.html for
// every route of the app, and the API's JSON not-found error for unmatched
// /api/ paths. The server mounts it at "/" below its API routes.
//
// Caveat: a binary built before `npm run build` embeds only a placeholder
// and serves a page that explains how to build the app. `make build` runs the
// npm build first. docs/web.md describes the app's screens and its tests.
package web
