package webpage

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	// "café — naïve" in windows-1252: é=E9, —=97, ï=EF.
	cp1252 := "caf\xe9 \x97 na\xefve"
	// "Ærø" in ISO-8859-1.
	latin1 := "\xc6r\xf8"
	longComment := "<!--" + strings.Repeat("padding ", 200) + "-->"
	cases := []struct {
		name, contentType, body, want string
	}{
		{"meta charset windows-1252", "",
			`<html><head><meta charset="windows-1252"><title>t</title></head><body>` + cp1252 + `</body></html>`,
			"café — naïve"},
		{"http-equiv charset iso-8859-1", "text/html",
			`<html><head><meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"></head><body>` + latin1 + `</body></html>`,
			"Ærø"},
		{"header charset", "text/html; charset=ISO-8859-1",
			`<html><body>` + latin1 + `</body></html>`,
			"Ærø"},
		{"header beats meta", "text/html; charset=windows-1252",
			`<html><head><meta charset="utf-8"></head><body>` + cp1252 + `</body></html>`,
			"café — naïve"},
		{"meta charset after the first kilobyte", "",
			`<html><head>` + longComment + `<meta charset="windows-1252"></head><body>` + cp1252 + `</body></html>`,
			"café — naïve"},
		{"undeclared utf-8 past the first kilobyte", "",
			`<html><head>` + longComment + `</head><body>café — naïve</body></html>`,
			"café — naïve"},
		{"undeclared legacy bytes", "",
			`<html><body>` + cp1252 + `</body></html>`,
			"café — naïve"},
		{"utf-8 byte order mark", "",
			"\xef\xbb\xbf<html><body>café</body></html>",
			"café"},
		{"invalid bytes in declared utf-8", "text/html; charset=utf-8",
			"<html><body>caf\xe9</body></html>",
			"caf\uFFFD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode([]byte(c.body), c.contentType)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("Decode = %q, want it to contain %q", got, c.want)
			}
			if strings.HasPrefix(got, "\ufeff") {
				t.Errorf("Decode kept the byte order mark")
			}
		})
	}
}

func TestDecodeThenExtract(t *testing.T) {
	page := "<html><head><meta charset=\"iso-8859-1\"><title>Les fours \xe0 bois et leurs gardiens</title></head><body><article>" +
		strings.Repeat("<p>Le four \xe0 bois demande une attention constante, et le gardien surveille la flamme, le tirage et les c\xf4nes pendant des heures.</p>", 5) +
		"</article></body></html>"
	decoded, err := Decode([]byte(page), "")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	a := extract(t, decoded, "https://example.fr/fours")
	if a.Title != "Les fours à bois et leurs gardiens" {
		t.Errorf("Title = %q", a.Title)
	}
	if !strings.Contains(a.Text, "Le four à bois demande") || !strings.Contains(a.Text, "les cônes") {
		t.Errorf("Text is not decoded:\n%s", a.Text)
	}
}
