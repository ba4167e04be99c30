// Package static holds the dashboard's assets, embedded in the binary:
// style.css, the page script app.js and the vendored uPlot under vendor/.
package static

import "embed"

// FS is this folder. "*" embeds whatever is here, so the build does not
// depend on which assets exist yet; the server does not serve .go files.
//
//go:embed *
var FS embed.FS
