package server

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	swaggerFiles "github.com/swaggo/files/v2"
	"github.com/swaggo/swag"
)

// The Swagger UI is served from swaggo/files/v2's embedded assets, read on
// request: swaggo/files v1 (gin-swagger's default) unpacks ~9 MB of them into
// memory at start-up, which an idle peer should not pay.

var swaggerPage = template.Must(template.New("swagger").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<link rel="stylesheet" href="swagger-ui.css"><link rel="icon" type="image/png" href="favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js"></script><script src="swagger-ui-standalone-preset.js"></script>
<script src="swagger-init.js"></script></body></html>`))

// Kept out of the page so that a strict Content-Security-Policy can forbid inline scripts.
const swaggerInit = `window.onload = function () {
  window.ui = SwaggerUIBundle({url: "doc.json", dom_id: "#swagger-ui", deepLinking: true,
    persistAuthorization: true, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"});
};`

func swaggerHandler(instance, title string) gin.HandlerFunc {
	assets := http.FileServerFS(swaggerFiles.FS)
	return func(c *gin.Context) {
		switch name := strings.TrimPrefix(c.Param("any"), "/"); name {
		case "", "index.html":
			c.Header("Content-Type", "text/html; charset=utf-8")
			_ = swaggerPage.Execute(c.Writer, struct{ Title string }{title})
		case "doc.json":
			doc, err := swag.ReadDoc(instance)
			if err != nil {
				Fail(c, err)
				return
			}
			c.Data(http.StatusOK, "application/json; charset=utf-8", []byte(doc))
		case "swagger-init.js":
			c.Data(http.StatusOK, "text/javascript; charset=utf-8", []byte(swaggerInit))
		default:
			r := c.Request.Clone(c.Request.Context())
			r.URL.Path = "/" + name
			assets.ServeHTTP(c.Writer, r)
		}
	}
}
