package login

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
)

// css is inlined and allowed by its hash in the Content-Security-Policy, so
// the page loads nothing and runs no script.
const css = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f8;color:#1d2530}
main{width:100%;max-width:360px;margin:16px;padding:32px;background:#fff;border-radius:12px;
 box-shadow:0 1px 3px rgba(16,24,40,.1),0 8px 24px rgba(16,24,40,.06)}
h1{margin:0 0 4px;font-size:22px}
p.sub{margin:0 0 24px;color:#5b6675}
label{display:block;margin:16px 0 6px;font-weight:600;font-size:14px}
input[type=text],input[type=password]{width:100%;padding:10px 12px;border:1px solid #c9d1db;border-radius:8px;font:inherit}
input:focus{outline:2px solid #2f6fde;outline-offset:1px;border-color:#2f6fde}
.err{margin:0 0 8px;padding:10px 12px;border-radius:8px;background:#fdecec;color:#9b1c1c;font-size:14px}
.row{display:flex;gap:8px;margin-top:24px}
button{flex:1;padding:10px 14px;border-radius:8px;border:1px solid transparent;font:inherit;font-weight:600;cursor:pointer}
button.primary{background:#2f6fde;color:#fff}
button.primary:hover{background:#255bb8}
button.secondary{background:#fff;border-color:#c9d1db;color:#1d2530}
footer{margin-top:24px;color:#8a94a3;font-size:12px;text-align:center}
`

var cspHeader = func() string {
	sum := sha256.Sum256([]byte(css))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; frame-ancestors 'none'; base-uri 'none'"
}()

type pageData struct {
	CSS      template.CSS
	Title    string
	Client   string
	ID       string
	Username string
	Error    string
	Message  string
	ShowForm bool
	FormPath string
}

var page = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} · OpenCloud</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .ShowForm}}
<p class="sub">to continue to {{.Client}}</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.FormPath}}" autocomplete="on">
<input type="hidden" name="id" value="{{.ID}}">
<label for="username">User name</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" spellcheck="false" required {{if not .Username}}autofocus{{end}}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required {{if .Username}}autofocus{{end}}>
<div class="row">
<button class="secondary" type="submit" name="cancel" value="1" formnovalidate>Cancel</button>
<button class="primary" type="submit">Sign in</button>
</div>
</form>
{{else}}
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{end}}
<footer>OpenCloud</footer>
</main>
</body>
</html>
`))
