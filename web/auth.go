package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Authentication and CSRF protection.
//
// The token (the data folder's .cookie file) is the only credential.
// Programs send it as "Authorization: Bearer <token>"; people type it into
// /login once, which stores it in the watchnode_auth cookie (HttpOnly,
// SameSite=Strict). Changes made from a page (the /ui/* forms, the JSON
// API called with the cookie) must also carry the CSRF token, derived from
// the token so that it needs no server state and changes with it:
// hex(HMAC-SHA256(key=token, "csrf")). A forged cross-site request can
// neither read it nor, SameSite aside, send the cookie with it.
//
// Reading is open on loopback. With WithRequireAuth (the server binds a
// non-loopback address) every page, asset, API call, /metrics and /ws needs
// the cookie or the Bearer token, except /login and /static/style.css.

// authCookie is the login cookie's name.
const authCookie = "watchnode_auth"

// csrfHeader carries the CSRF token on JSON API calls made with the cookie.
const csrfHeader = "X-CSRF-Token"

// Option configures a Server.
type Option func(*Server)

// WithRequireAuth makes every request need the token (cookie or Bearer),
// for servers reachable from other machines.
func WithRequireAuth(require bool) Option {
	return func(s *Server) { s.requireAuth = require }
}

// IsLoopback reports whether addr, a listener's address, is a loopback one,
// which only this machine can reach.
func IsLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) tokenMatches(got string) bool {
	return s.token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// bearerOK: the request carries "Authorization: Bearer <token>".
func (s *Server) bearerOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.tokenMatches(got)
}

// cookieOK: the request carries the login cookie.
func (s *Server) cookieOK(r *http.Request) bool {
	c, err := r.Cookie(authCookie)
	return err == nil && s.tokenMatches(c.Value)
}

// csrfToken is the token forms and page scripts send back with changes.
func (s *Server) csrfToken() string {
	if s.token == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(s.token))
	m.Write([]byte("csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) csrfOK(got string) bool {
	want := s.csrfToken()
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// apiAuthorized says whether a mutating API call may proceed: the Bearer
// token, or the login cookie with the CSRF token in X-CSRF-Token.
func (s *Server) apiAuthorized(r *http.Request) bool {
	return s.bearerOK(r) || s.cookieOK(r) && s.csrfOK(r.Header.Get(csrfHeader))
}

// contentSecurityPolicy allows only this origin's scripts, styles and
// connections (the WebSocket included); uPlot sets inline styles.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// publicPaths may be fetched without credentials even with RequireAuth:
// the login page needs them.
var publicPaths = map[string]bool{"/login": true, "/static/style.css": true}

// gate wraps every handler: security headers on every response and, with
// RequireAuth, credentials on every request but the login page's.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		if s.requireAuth && !publicPaths[r.URL.Path] && !s.cookieOK(r) && !s.bearerOK(r) {
			s.deny(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// deny answers a request without credentials: people asking for a page
// are sent to the login page, programs get 401.
func (s *Server) deny(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	machine := strings.HasPrefix(p, "/api/") || p == "/ws" || p == "/metrics" || strings.HasPrefix(p, "/static/") || strings.HasPrefix(p, "/decoder/")
	if !machine && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="watchnode"`)
	const msg = "this server needs the token: log in at /login, or send Authorization: Bearer <token>, the token being the contents of the data folder's .cookie file"
	if strings.HasPrefix(p, "/api/") {
		writeError(w, http.StatusUnauthorized, msg)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, http.StatusUnauthorized)
}

// safeNext returns next if it is a path on this server, else "/": a login
// link must not send anyone elsewhere.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// setLoginCookie stores the token in the browser.
func (s *Server) setLoginCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: authCookie, Value: s.token, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

func clearLoginCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: authCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}
