package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"checkpoint"
)

// entryRig is a server whose typed codes are judged green when they are
// 48213390, red otherwise, and counted.
func entryRig(t *testing.T, token string) (*rig, *[]string) {
	t.Helper()
	var typed []string
	r := newRig(t, Options{Token: token}, func(o *Options) {
		o.Enter = func(_ context.Context, text string) checkpoint.Verdict {
			typed = append(typed, text)
			if text == "48213390" {
				return checkpoint.Verdict{Color: checkpoint.Green, Format: checkpoint.FormatCode, Reasons: []string{"entered by hand", "status from cache"}}
			}
			return checkpoint.Verdict{Color: checkpoint.Red, Format: checkpoint.FormatCode, Reasons: []string{"entered by hand", "invalid code"}}
		}
		o.Vietnamese = func(r string) (string, bool) {
			vi, ok := map[string]string{"entered by hand": "mã nhập tay"}[r]
			return vi, ok
		}
	})
	return r, &typed
}

// post sends POST /code with the given headers (pairs) and body.
func post(t *testing.T, h http.Handler, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "http://127.0.0.1:8080/code", strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestCodeEntry: a typed code with the page's CSRF token gives its
// verdict; without the token, from another site or origin, or not as JSON,
// it is refused and never judged.
func TestCodeEntry(t *testing.T) {
	r, typed := entryRig(t, "")
	csrf := r.s.State().CSRF
	if len(csrf) != 32 {
		t.Fatalf("state CSRF token %q", csrf)
	}
	h := r.s.Handler()
	const body = `{"code":"48213390"}`
	json := func(extra ...string) []string {
		return append([]string{"Content-Type", "application/json", csrfHeader, csrf}, extra...)
	}
	for _, tt := range []struct {
		name   string
		body   string
		hdr    []string
		status int
	}{
		{"no token", body, []string{"Content-Type", "application/json"}, http.StatusForbidden},
		{"wrong token", body, []string{"Content-Type", "application/json", csrfHeader, strings.Repeat("0", 32)}, http.StatusForbidden},
		{"another site", body, json("Sec-Fetch-Site", "cross-site"), http.StatusForbidden},
		{"another origin", body, json("Origin", "http://evil.example"), http.StatusForbidden},
		{"a form post", "code=48213390", []string{"Content-Type", "application/x-www-form-urlencoded", csrfHeader, csrf}, http.StatusUnsupportedMediaType},
		{"bad body", `{"pin":"1"}`, json(), http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if w := post(t, h, tt.body, tt.hdr...); w.Code != tt.status {
				t.Errorf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
		})
	}
	if len(*typed) != 0 {
		t.Fatalf("refused requests were judged: %q", *typed)
	}
	w := post(t, h, body, json("Origin", "http://127.0.0.1:8080", "Sec-Fetch-Site", "same-origin")...)
	var v VerdictState
	if err := jsonDecode(w.Body.String(), &v); err != nil || w.Code != http.StatusOK {
		t.Fatalf("status %d: %s (%v)", w.Code, w.Body, err)
	}
	if v.Color != "green" || v.ReasonsVI[0] != "mã nhập tay" || v.Reasons[1] != "status from cache" {
		t.Errorf("verdict %+v", v)
	}
	if len(*typed) != 1 || (*typed)[0] != "48213390" {
		t.Errorf("judged %q", *typed)
	}
}

// TestCodeEntryBehindToken: with a token, the form needs it too; without
// Enter the page has no keypad and POST /code is not found.
func TestCodeEntryBehindToken(t *testing.T) {
	r, typed := entryRig(t, "s3cret-token")
	csrf := r.s.State().CSRF
	w := post(t, r.s.Handler(), `{"code":"48213390"}`, "Content-Type", "application/json", csrfHeader, csrf)
	if w.Code != http.StatusUnauthorized || len(*typed) != 0 {
		t.Fatalf("without the token: status %d, judged %q", w.Code, *typed)
	}
	w = post(t, r.s.Handler(), `{"code":"48213390"}`, "Content-Type", "application/json", csrfHeader, csrf, "Authorization", "Bearer s3cret-token")
	if w.Code != http.StatusOK {
		t.Fatalf("with the token: status %d: %s", w.Code, w.Body)
	}
	plain := newRig(t, Options{}, nil)
	if plain.s.State().CSRF != "" {
		t.Error("a CSRF token without a keypad")
	}
	if w := post(t, plain.s.Handler(), `{"code":"1234"}`, "Content-Type", "application/json"); w.Code != http.StatusNotFound {
		t.Errorf("POST /code without Enter: %d", w.Code)
	}
}

// TestStateCounts: a gate with a direction shows today's counts, present
// never below zero.
func TestStateCounts(t *testing.T) {
	r := newRig(t, Options{}, func(o *Options) {
		o.Direction = "out"
		o.Passages = func(context.Context) (int64, int64, error) { return 2, 5, nil }
	})
	c := r.s.State().Counts
	if c == nil || c.In != 2 || c.Out != 5 || c.Present != 0 || c.Direction != "out" {
		t.Fatalf("counts %+v", c)
	}
	if newRig(t, Options{}, nil).s.State().Counts != nil {
		t.Error("counts without a direction")
	}
}

func jsonDecode(s string, v any) error { return json.NewDecoder(strings.NewReader(s)).Decode(v) }

// TestCameraOff: a camera off on purpose is said so, and is healthy.
func TestCameraOff(t *testing.T) {
	for _, off := range []string{"none", "paused"} {
		r := newRig(t, Options{}, func(o *Options) { o.CameraOff = func() string { return off } })
		if d := r.s.State().Device; d.Camera != off || d.FrameAgeMS != -1 {
			t.Errorf("%s: device %+v", off, d)
		}
		if problems, _ := r.s.Health(context.Background()); len(problems) != 0 {
			t.Errorf("%s: unhealthy: %q", off, problems)
		}
	}
}
