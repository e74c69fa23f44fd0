package config

import (
	"errors"
	"strings"
	"testing"

	"checkpoint"
)

func TestParseSite(t *testing.T) {
	c, err := Parse("site.toml", []byte("site = \"factory-7\"\n[policy]\nsite_list = \"require\"\nnot_listed = \"yellow\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Site != "factory-7" || c.Policy.SiteList != "require" || c.Policy.NotListed.C() != checkpoint.Yellow {
		t.Errorf("parsed %q %+v", c.Site, c.Policy)
	}
	d := Default()
	if d.Site != "" || d.Policy.SiteList != "ignore" || d.Policy.NotListed.C() != checkpoint.Red {
		t.Errorf("defaults %q %q %v", d.Site, d.Policy.SiteList, d.Policy.NotListed.C())
	}
	for _, tt := range []struct {
		text string
		line int
		key  string
		msg  string
	}{
		{"site = \"Factory 7\"\n", 1, "site", "not a site name"},
		{"[policy]\nsite_list = \"require\"\n", 2, "policy.site_list", `"require" needs site = "NAME"`},
		{"[policy]\nsite_list = \"always\"\n", 2, "policy.site_list", "not ignore or require"},
		{"site = \"a\"\n[policy]\nnot_listed = \"green\"\n", 3, "policy.not_listed", "green would admit everyone"},
	} {
		_, err := Parse("site.toml", []byte(tt.text))
		var ce *Error
		if !errors.As(err, &ce) || ce.Line != tt.line || ce.Key != tt.key || !strings.Contains(ce.Msg, tt.msg) {
			t.Errorf("Parse(%q) = %v, want line %d key %s ~%q", tt.text, err, tt.line, tt.key, tt.msg)
		}
	}
}
