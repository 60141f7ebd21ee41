// Package deploycheck has no code: its tests parse the deploy files
// (Procfile, app.json, Railway configs, the compose file, the Dockerfile) so
// that a broken one fails CI rather than a deploy.
package deploycheck
