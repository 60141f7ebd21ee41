// Package migrations holds the schema migrations, embedded so the api binary
// can apply them without the source tree.
package migrations

import "embed"

// FS holds every NNNNN_name.sql migration in goose's format.
//
//go:embed *.sql
var FS embed.FS
