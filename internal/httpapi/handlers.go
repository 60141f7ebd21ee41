package httpapi

import "github.com/dealctx/dealctx/internal/web"

// server is the shared server the handlers still in this package are
// methods of.
type server struct{ *web.Server }
