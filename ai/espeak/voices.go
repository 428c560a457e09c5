package espeak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Voice is one voice espeak-ng offers.
type Voice struct {
	// Language is the voice's language code ("en-us", "de"): the value to
	// pass to Synthesize, optionally with a variant ("en-us+f3").
	Language string
	// Name is espeak-ng's name of the voice ("English_(America)").
	Name string
	// Gender is "M", "F" or empty when espeak-ng does not say.
	Gender string
	// File is the voice file under espeak-ng-data/voices ("gmw/en-US").
	File string
	// Priority is espeak-ng's preference for the voice within its
	// language; lower is preferred.
	Priority int
	// OtherLanguages are further language codes the voice serves.
	OtherLanguages []string
}

// Voices lists the voices espeak-ng can speak with. MBROLA voices (voice
// files under mb/) are left out: they need the separate mbrola program and
// voice packages, which Kiln does not install.
func (e *Engine) Voices(ctx context.Context) ([]Voice, error) {
	args := []string{"--voices"}
	if e.dataPath != "" {
		args = append(args, "--path="+e.dataPath)
	}
	out, err := e.run(ctx, e.bin, args, nil)
	if err != nil {
		return nil, fmt.Errorf("espeak: listing voices: %w", err)
	}
	return parseVoices(out)
}

// parseVoices reads the table espeak-ng --voices prints:
//
//	Pty Language       Age/Gender VoiceName          File                 Other Languages
//	 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
func parseVoices(out []byte) ([]Voice, error) {
	var voices []Voice
	sc := bufio.NewScanner(bytes.NewReader(out))
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 5 {
			continue
		}
		pty, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("espeak: parsing voice line %q: %w", sc.Text(), err)
		}
		if strings.HasPrefix(f[4], "mb/") {
			continue
		}
		voices = append(voices, Voice{
			Language: f[1], Gender: gender(f[2]), Name: f[3], File: f[4],
			Priority: pty, OtherLanguages: otherLanguages(f[5:]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("espeak: reading the voice list: %w", err)
	}
	if len(voices) == 0 {
		return nil, fmt.Errorf("espeak: espeak-ng listed no voices")
	}
	return voices, nil
}

// gender turns espeak-ng's Age/Gender column ("--/M") into "M", "F" or "".
func gender(ageGender string) string {
	_, g, _ := strings.Cut(ageGender, "/")
	if g == "M" || g == "F" {
		return g
	}
	return ""
}

// otherLanguages reads "(en 2)(en-gb 3)" style fields, already split at
// spaces into "(en", "2)(en-gb", "3)", and returns the language codes.
func otherLanguages(fields []string) []string {
	var langs []string
	for _, part := range strings.Split(strings.Join(fields, " "), "(") {
		code, _, _ := strings.Cut(strings.TrimSpace(part), " ")
		if code = strings.TrimSuffix(code, ")"); code != "" {
			langs = append(langs, code)
		}
	}
	return langs
}
