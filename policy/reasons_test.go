package policy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"checkpoint"
)

// TestReasonsVietnamese: every Reason constant declared in this package's
// code has its Vietnamese in the one table; found by reading the source, so
// a reason added without its translation fails here.
func TestReasonsVietnamese(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				vs, ok := n.(*ast.ValueSpec)
				if !ok {
					return true
				}
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						t.Errorf("%s: not a string literal", name.Name)
						continue
					}
					en, _ := strconv.Unquote(lit.Value)
					found++
					if vi, ok := vietnamese[en]; !ok || vi == "" {
						t.Errorf("%s (%q) has no Vietnamese in reasons.go", name.Name, en)
					}
				}
				return true
			})
		}
	}
	if found < 20 {
		t.Fatalf("found %d Reason constants: the source scan is broken", found)
	}
	if len(vietnamese) != found {
		t.Errorf("table has %d entries for %d Reason constants", len(vietnamese), found)
	}
}

// TestRuleReasonsVietnamese: every reason an HC1 rule can give (named, named
// without name_vi, unnamed of each kind) has its Vietnamese, which differs
// from the English.
func TestRuleReasonsVietnamese(t *testing.T) {
	p := DefaultProfile()
	p.Vaccinations = append(p.Vaccinations,
		VaccinationRule{Color: checkpoint.Green, MinDose: 2, MinDays: 7, MaxDays: 270},
		VaccinationRule{Color: checkpoint.Green, Complete: true},
		VaccinationRule{Name: "booster", Color: checkpoint.Green, MinDose: 3})
	p.Recoveries = append(p.Recoveries, RecoveryRule{Color: checkpoint.Yellow, MaxDays: 90})
	p.Tests = append(p.Tests, TestRule{Color: checkpoint.Yellow, Result: NotDetected, MaxHours: 24}, TestRule{Color: checkpoint.Yellow, Result: "x", MaxHours: 1})
	j := &Judge{Rules: Rules{HC1: p}}
	var all []string
	for _, r := range p.Vaccinations {
		all = append(all, r.reason())
	}
	for _, r := range p.Recoveries {
		all = append(all, r.reason())
	}
	for _, r := range p.Tests {
		all = append(all, r.reason())
	}
	for _, en := range all {
		vi, ok := j.Vietnamese(en)
		if !ok || vi == "" || vi == en {
			t.Errorf("rule reason %q: Vietnamese %q, %v", en, vi, ok)
		}
	}
	if _, ok := j.Vietnamese("no such reason"); ok {
		t.Error("an unknown reason was translated")
	}
}

// TestVerdictReasonsVietnamese: the reasons of real verdicts, of every
// format, all translate.
func TestVerdictReasonsVietnamese(t *testing.T) {
	j := &Judge{Rules: DefaultRules(), Stale: func(time.Time) bool { return true }, Pairs: &Pairing{}}
	now := time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC)
	for _, c := range []checkpoint.Credential{
		{Format: checkpoint.FormatUnknown},
		{Format: checkpoint.FormatVN1405, Key: "q"},
		{Format: checkpoint.FormatCCCD, Key: "001"},
		{Format: checkpoint.FormatCode, Key: checkpoint.CodeKey("1234")},
		{Format: checkpoint.FormatHC1, Signature: checkpoint.SignerUnknown, Cert: &checkpoint.Certificate{}},
	} {
		v := j.Judge(t.Context(), c, now)
		for _, r := range v.Reasons {
			if _, ok := j.Vietnamese(r); !ok {
				t.Errorf("%s: reason %q has no Vietnamese", c.Format, r)
			}
		}
	}
}
