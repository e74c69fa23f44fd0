package credential

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"checkpoint"
)

func TestParseText(t *testing.T) {
	long := strings.Repeat("A", MaxPayload-40)
	tests := []struct {
		name   string
		text   string
		format checkpoint.Format
		key    string
		holder checkpoint.Holder
		err    string // substring of the error; "" for none
	}{
		// 1405 personal QR.
		{"1405 full", "******123456|NGUYEN VAN AN|1990-05-17|0|0123456789ABCDEF|",
			checkpoint.FormatVN1405, "0123456789ABCDEF", checkpoint.Holder{Initials: "NVA", BirthDay: 17, BirthMonth: 5, FullName: "NGUYEN VAN AN"}, ""},
		{"1405 no EXT", "******123456|TRAN THI BINH|1985-12-01|1|QID000111",
			checkpoint.FormatVN1405, "QID000111", checkpoint.Holder{Initials: "TTB", BirthDay: 1, BirthMonth: 12, FullName: "TRAN THI BINH"}, ""},
		{"1405 with EXT", "001234567890|LE VAN C|2001-02-03|1|Q1|Q0<1<DN4010123456789<0912345678",
			checkpoint.FormatVN1405, "Q1", checkpoint.Holder{Initials: "LVC", BirthDay: 3, BirthMonth: 2, FullName: "LE VAN C"}, ""},
		{"1405 extra separators in EXT", "***|PHAM D|2001-02-03|0|Q2|a|b||c|",
			checkpoint.FormatVN1405, "Q2", checkpoint.Holder{Initials: "PD", BirthDay: 3, BirthMonth: 2, FullName: "PHAM D"}, ""},
		{"1405 day masked", "******123456|HO E|1970-03-**|0|Q3",
			checkpoint.FormatVN1405, "Q3", checkpoint.Holder{Initials: "HE", BirthMonth: 3, FullName: "HO E"}, ""},
		{"1405 day and month masked", "******123456|HO E|1970-**-**|0|Q3",
			checkpoint.FormatVN1405, "Q3", checkpoint.Holder{Initials: "HE", FullName: "HO E"}, ""},
		{"1405 zero day", "******123456|HO E|1970-03-00|0|Q3",
			checkpoint.FormatVN1405, "Q3", checkpoint.Holder{Initials: "HE", BirthMonth: 3, FullName: "HO E"}, ""},
		{"1405 year only", "|VO F|1950|0|Q4",
			checkpoint.FormatVN1405, "Q4", checkpoint.Holder{Initials: "VF", FullName: "VO F"}, ""},
		{"1405 diacritics", "******123456|Đặng Ánh Ưng|2000-02-29|0|Q5",
			checkpoint.FormatVN1405, "Q5", checkpoint.Holder{Initials: "DAU", BirthDay: 29, BirthMonth: 2, FullName: "Đặng Ánh Ưng"}, ""},
		{"1405 mojibake repaired", "******123456|\u00c4\u0090\u00e1\u00ba\u00b7ng A|2000-01-01|0|Q6",
			checkpoint.FormatVN1405, "Q6", checkpoint.Holder{Initials: "DA", BirthDay: 1, BirthMonth: 1, FullName: "Đặng A"}, ""},
		{"1405 bytes not UTF-8", "******123456|NGUY\xffEN \xc3A|2000-01-01|0|Q7",
			checkpoint.FormatVN1405, "Q7", checkpoint.Holder{Initials: "NA", BirthDay: 1, BirthMonth: 1, FullName: "NGUY\uFFFDEN \uFFFDA"}, ""},
		{"1405 surrounding space and CRLF", "  ******123456 | NGUYEN  VAN   AN |1990-05-17| 0 | Q8 \r\n",
			checkpoint.FormatVN1405, "Q8", checkpoint.Holder{Initials: "NVA", BirthDay: 17, BirthMonth: 5, FullName: "NGUYEN VAN AN"}, ""},
		{"1405 bidi override and other format characters", "******123456|NGUYEN\u202e VAN\u2066 \u200bAN\u00ad\ufeff|1990-05-17|0|QB1",
			checkpoint.FormatVN1405, "QB1", checkpoint.Holder{Initials: "NVA", BirthDay: 17, BirthMonth: 5, FullName: "NGUYEN VAN AN"}, ""},
		{"1405 name of format characters only", "******123456|\u202e\u202d\u2067|1990-05-17|0|QB2", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 2 (name): empty"},
		{"1405 bad date", "******123456|NGUYEN VAN AN|17/05/1990|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "vn1405 field 3 (birth date)"},
		{"1405 impossible date", "******123456|NGUYEN VAN AN|1990-02-30|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "birth date"},
		{"1405 not a leap year", "******123456|NGUYEN VAN AN|1900-02-29|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "birth date"},
		{"1405 month 13", "******123456|NGUYEN VAN AN|1990-13-01|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "birth date"},
		{"1405 bad type", "******123456|NGUYEN VAN AN|1990-05-17|2|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 4 (registration type)"},
		{"1405 empty QID", "******123456|NGUYEN VAN AN|1990-05-17|0||ext", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 5 (QID): empty"},
		{"1405 masked QID", "******123456|NGUYEN VAN AN|1990-05-17|0|12**34", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 5 (QID)"},
		{"1405 empty name", "******123456||1990-05-17|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 2 (name): empty"},
		{"1405 name of digits", "******123456|12345|1990-05-17|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 2 (name): no letters"},
		{"1405 bad document", "12 34|NGUYEN VAN AN|1990-05-17|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 1 (document number)"},
		{"1405 long field", "******123456|" + long + "|1990-05-17|0|Q9", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "field 2 (name): too long"},

		// CCCD.
		{"cccd", "001099012345|123456789|Nguyễn Văn An|17051990|Nam|Số 1, Phường X, Quận Y, Hà Nội|01072021",
			checkpoint.FormatCCCD, "001099012345", checkpoint.Holder{Initials: "NVA", BirthDay: 17, BirthMonth: 5, FullName: "Nguyễn Văn An"}, ""},
		{"cccd no CMND", "001099012345||Đỗ Thị Ý|01011960|Nữ|Thôn 2, Xã Z|15032022",
			checkpoint.FormatCCCD, "001099012345", checkpoint.Holder{Initials: "DTY", BirthDay: 1, BirthMonth: 1, FullName: "Đỗ Thị Ý"}, ""},
		{"cccd unknown birth day", "001099012345||Lê B|00001960|Nam|Thôn 2|15032022",
			checkpoint.FormatCCCD, "001099012345", checkpoint.Holder{Initials: "LB", FullName: "Lê B"}, ""},
		{"cccd separator in address", "001099012345||Lê B|02031960|Nam|Thôn 2|Xã Z|15032022|",
			checkpoint.FormatCCCD, "001099012345", checkpoint.Holder{Initials: "LB", BirthDay: 2, BirthMonth: 3, FullName: "Lê B"}, ""},
		{"cccd extra fields after issue date", "001099012345||Lê B|02031960|Nam|Thôn 2|15032022|||x",
			checkpoint.FormatCCCD, "001099012345", checkpoint.Holder{Initials: "LB", BirthDay: 2, BirthMonth: 3, FullName: "Lê B"}, ""},
		{"cccd mojibake", "001099012345||L\u00c3\u00aa B|02031960|Nam|Th\u00c3\u00b4n 2|15032022",
			checkpoint.FormatCCCD, "001099012345", checkpoint.Holder{Initials: "LB", BirthDay: 2, BirthMonth: 3, FullName: "Lê B"}, ""},
		{"cccd bidi override", "001099012345||L\u202eê B\u2069|02031960|Nam|Thôn 2|15032022",
			checkpoint.FormatCCCD, "001099012345", checkpoint.Holder{Initials: "LB", BirthDay: 2, BirthMonth: 3, FullName: "Lê B"}, ""},
		{"cccd bad CMND", "001099012345|12345|Lê B|02031960|Nam|Thôn 2|15032022", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "cccd field 2 (old ID number)"},
		{"cccd bad birth date", "001099012345||Lê B|32031960|Nam|Thôn 2|15032022", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "cccd field 4 (birth date)"},
		{"cccd no issue date", "001099012345||Lê B|02031960|Nam|Thôn 2|soon", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "cccd field 7 (issue date)"},
		{"cccd empty name", "001099012345|| |02031960|Nam|Thôn 2|15032022", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "cccd field 3 (name): empty"},

		// Anything else.
		{"empty", "", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "unknown payload format: empty"},
		{"url", "https://example.com/x", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "unknown payload format"},
		{"few fields", "a|b|c", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "3 fields"},
		{"too long", strings.Repeat("|", MaxPayload+1), checkpoint.FormatUnknown, "", checkpoint.Holder{}, "longer than 4096"},
		{"lower-case hc1", "hc1:NCF", checkpoint.FormatUnknown, "", checkpoint.Holder{}, "unknown payload format"},
	}
	p := &Parser{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.Parse(tt.text)
			if tt.err != "" {
				if c.Err == nil || !strings.Contains(c.Err.Error(), tt.err) {
					t.Fatalf("Parse: err %v, want %q", c.Err, tt.err)
				}
				if c.Format != checkpoint.FormatUnknown || c.Key != "" {
					t.Errorf("failed parse gave format %q key %q", c.Format, c.Key)
				}
				assertNoPersonalData(t, c.Err.Error(), tt.text)
				return
			}
			if c.Err != nil {
				t.Fatalf("Parse: %v", c.Err)
			}
			if c.Format != tt.format || c.Key != tt.key || c.Holder != tt.holder || c.Signature != checkpoint.Unsigned {
				t.Errorf("Parse = %+v\nwant format %q key %q holder %+v", c, tt.format, tt.key, tt.holder)
			}
		})
	}
}

// assertNoPersonalData fails when msg contains a field of text longer than
// two bytes (a name, a number, a date).
func assertNoPersonalData(t *testing.T, msg, text string) {
	t.Helper()
	for _, f := range strings.Split(text, "|") {
		f = strings.TrimSpace(f)
		if len(f) > 2 && strings.Contains(msg, f) {
			t.Errorf("error %q contains input field %q", msg, f)
		}
	}
}

func TestFieldErrorIsTyped(t *testing.T) {
	c := (&Parser{}).Parse("******123456|NGUYEN VAN AN|1990-05-17|9|Q9")
	var fe *FieldError
	if !errors.As(c.Err, &fe) || fe.Field != 4 || fe.Format != checkpoint.FormatVN1405 {
		t.Fatalf("err = %#v, want a FieldError for field 4", c.Err)
	}
	if c := (&Parser{}).Parse(strings.Repeat("x", MaxPayload+1)); !errors.Is(c.Err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", c.Err)
	}
	if c := (&Parser{}).Parse("hello"); !errors.Is(c.Err, ErrUnknownFormat) {
		t.Fatalf("err = %v, want ErrUnknownFormat", c.Err)
	}
}

func TestInitials(t *testing.T) {
	for in, want := range map[string]string{
		"NGUYEN VAN AN":         "NVA",
		"Nguyễn Văn Ánh":        "NVA",
		"đỗ ưng ổ":              "DUO",
		"ĐẶNG  ẨN   ỲNH":        "DAY",
		"MUSTERFRAU<GOESSINGER": "MG",
		"Musterfrau-Gößinger":   "MG",
		"Øre Łukasz":            "OL",
		"  ":                    "",
		"1 A":                   "A",
	} {
		if got := initials(in); got != want {
			t.Errorf("initials(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRepairText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                   "plain",
		"Nguyễn":                  "Nguyễn",
		"Nguy\u00e1\u00bb\u0085n": "Nguyễn",
		"caf\u00e9":               "café", // Latin-1 that is not UTF-8 bytes stays
		"a\xffb":                  "a\uFFFDb",
	} {
		if got := repairText(in); got != want || !utf8.ValidString(got) {
			t.Errorf("repairText(%q) = %q, want %q", in, got, want)
		}
	}
}

// textSeeds are the fuzz seeds for the '|' formats.
var textSeeds = []string{
	"******123456|NGUYEN VAN AN|1990-05-17|0|0123456789ABCDEF|",
	"001234567890|LE VAN C|2001-02-03|1|Q1|Q0<1<DN4010123456789<0912345678",
	"******123456|HO E|1970-**-**|0|Q3",
	"***|PHAM D|2001-02-03|0|Q2|a|b||c|",
	"******123456|NGUY\xffEN \xc3A|2000-01-01|0|Q7",
	"001099012345|123456789|Nguyễn Văn An|17051990|Nam|Số 1, Phường X|01072021",
	"001099012345||Lê B|02031960|Nam|Thôn 2|Xã Z|15032022|",
	"001099012345||L\u00c3\u00aa B|00001960|Nam|Th\u00c3\u00b4n 2|15032022",
	"|||||||",
	"",
}

// checkCredential asserts what holds for every parse result.
func checkCredential(t *testing.T, text string, c checkpoint.Credential) {
	t.Helper()
	if c.Err != nil {
		if c.Key != "" {
			t.Fatalf("failed parse kept a key")
		}
		if c.Format != checkpoint.FormatUnknown && c.Format != checkpoint.FormatHC1 {
			t.Fatalf("failed parse has format %q", c.Format)
		}
		return
	}
	if c.Key == "" || len(text) > MaxPayload {
		t.Fatalf("parse accepted %q with key %q", text, c.Key)
	}
	h := c.Holder
	if h.BirthDay < 0 || h.BirthDay > 31 || h.BirthMonth < 0 || h.BirthMonth > 12 {
		t.Fatalf("holder %+v out of range", h)
	}
	if !utf8.ValidString(h.FullName) || !utf8.ValidString(h.Initials) {
		t.Fatalf("holder text not UTF-8")
	}
	for _, r := range h.FullName + h.Initials {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("holder text carries %U to the screen", r)
		}
	}
}

func FuzzParse1405(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	p := &Parser{}
	f.Fuzz(func(t *testing.T, text string) {
		c := p.Parse(text)
		checkCredential(t, text, c)
		if c.Err == nil && c.Format == checkpoint.FormatVN1405 && strings.Count(text, "|") < 4 {
			t.Fatalf("vn1405 with %d separators", strings.Count(text, "|"))
		}
	})
}

func FuzzParseCCCD(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	p := &Parser{}
	f.Fuzz(func(t *testing.T, text string) {
		c := p.Parse(text)
		checkCredential(t, text, c)
		if c.Err == nil && c.Format == checkpoint.FormatCCCD && !isDigits(c.Key, 12) {
			t.Fatalf("cccd key is not 12 digits")
		}
	})
}
